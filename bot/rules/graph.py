"""Cycles in a link graph (e.g. 前置任务): pure, no plan types, reusable by any rule.

`find_cycles(edges)` takes `{node: [nodes it points to]}` and returns each strongly connected
group that forms a cycle — a self-link (A→A) or two or more nodes reaching each other — as a list
of nodes in a stable order (the order in which they first appear in `edges`, rotated so the cycle
reads along the links). Links to nodes that are not keys of `edges` are ignored (a deleted row).
Iterative Tarjan: a 10,000-row chain does not hit the recursion limit.
"""
from __future__ import annotations

from typing import Hashable, Iterable, Mapping, Sequence, TypeVar

N = TypeVar("N", bound=Hashable)


def find_cycles(edges: Mapping[N, Iterable[N]]) -> list[list[N]]:
    """Every cycle group (self-links included), each once, in first-seen order of its nodes."""
    order = {n: i for i, n in enumerate(edges)}
    succ: dict[N, list[N]] = {n: [m for m in dict.fromkeys(edges[n]) if m in order] for n in edges}
    index: dict[N, int] = {}
    low: dict[N, int] = {}
    on_stack: set[N] = set()
    stack: list[N] = []
    groups: list[list[N]] = []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work: list[tuple[N, int]] = [(root, 0)]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, i = work[-1]
            nexts = succ[node]
            if i < len(nexts):
                work[-1] = (node, i + 1)
                m = nexts[i]
                if m not in index:
                    index[m] = low[m] = counter
                    counter += 1
                    stack.append(m)
                    on_stack.add(m)
                    work.append((m, 0))
                elif m in on_stack:
                    low[node] = min(low[node], index[m])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group: list[N] = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    group.append(m)
                    if m == node:
                        break
                if len(group) > 1 or node in succ[node]:
                    groups.append(_along_links(sorted(group, key=order.__getitem__), succ))
    groups.sort(key=lambda g: order[g[0]])
    return groups


def _along_links(group: Sequence[N], succ: Mapping[N, list[N]]) -> list[N]:
    """The group's nodes starting at its first-seen node, following links inside the group."""
    members = set(group)
    path: list[N] = [group[0]]
    seen = {group[0]}
    while True:
        nxt = next((m for m in succ[path[-1]] if m in members and m not in seen), None)
        if nxt is None:
            break
        path.append(nxt)
        seen.add(nxt)
    return path + [m for m in group if m not in seen]
