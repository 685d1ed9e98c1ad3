"""The cycle finder on link graphs (前置任务)."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from gtm.bot.rules.graph import find_cycles


def test_two_node_cycle_and_self_link_found_once_each():
    edges = {"A": ["B"], "B": ["A"], "C": ["C"], "D": ["A"], "E": []}
    assert find_cycles(edges) == [["A", "B"], ["C"]]


def test_cycle_reads_along_the_links_and_ignores_unknown_nodes():
    edges = {"T1": ["T3"], "T2": ["T1", "gone"], "T3": ["T2"]}
    assert find_cycles(edges) == [["T1", "T3", "T2"]]


def test_acyclic_long_chain_has_no_cycle_and_no_recursion_error():
    edges = {i: [i + 1] for i in range(20_000)}
    assert find_cycles(edges) == []
    edges[19_999] = [0]
    assert len(find_cycles(edges)[0]) == 20_000


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.integers(0, 12), st.lists(st.integers(0, 12), max_size=3), max_size=12))
def test_every_node_in_a_cycle_reaches_itself(edges):
    def reach(a):
        seen, todo = set(), list(edges.get(a, []))
        while todo:
            n = todo.pop()
            if n in edges and n not in seen:
                seen.add(n)
                todo.extend(edges[n])
        return seen

    in_cycles = [n for g in find_cycles(edges) for n in g]
    assert len(in_cycles) == len(set(in_cycles))
    assert set(in_cycles) == {n for n in edges if n in reach(n)}
