"""Every reference from the repository to its own reference documents has a target in it.

Platform facts are cited as `docs/feishu-api.md §N`, the seed documents as `docs/seeds/NNN §N`
(the numbering is explained in docs/seeds/README.md). A file fails when it:
- names the Feishu guide by any path other than docs/feishu-api.md (a copy outside the repository
  is not there for a maintainer who clones it);
- cites a § that docs/feishu-api.md has no heading for (bare § numbers in a file that names
  docs/feishu-api.md count as citations of it, unless the line names another document);
- cites a seed without its in-repository file (a bare "seed" + number), a seed file that does not
  exist, or a seed section docs/seeds/README.md does not list.
The README's section table is itself checked against the seed texts, and every path listed under
"Used by" in docs/feishu-api.md must exist.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FEISHU_DOC = "docs/feishu-api.md"
SEEDS_DIR = ROOT / "docs" / "seeds"
SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", "build", "dist", ".pytest_cache",
             ".mypy_cache", ".ruff_cache", ".tox"}
MAX_BYTES = 2_000_000

NUM = r"\d+(?:\.\d+)*"
SEP = r"\s*(?:,|/|–|-|\band\b|\bor\b)\s*"
SECTIONS = rf"§\s*{NUM}(?:{SEP}§\s*{NUM}|\s*–\s*{NUM})*"  # "§2.2–§3.2, §5.3", "§5.1/§6.1", "§2.3 and §4"
# any path (or none) in front of the guide's file name; only "docs/" is right
FEISHU_REF = re.compile(r"(?<![\w/.-])([\w./-]*?)feishu-api\.md(?:`)?(" + rf"\s*{SECTIONS})?")
SEED_REF = re.compile(r"docs/seeds/(\d{3})([-A-Za-z0-9_.]*[A-Za-z0-9_])?(" + rf"\s*{SECTIONS})?")
BARE_SEED = re.compile(r"\bseeds?\s+\d{3}\b", re.IGNORECASE)
BARE_SECTION = re.compile(rf"§\s*({NUM})(?:\s*–\s*§?\s*({NUM}))?")
OTHER_DOC = re.compile(r"[\w./-]+\.md\b|docs/seeds/")
USED_BY_PATH = re.compile(r"`((?:bot|sync|schemas|sandbox|benchmarks|tests|docs|deploy)/[\w./-]+)`")
CN = "一二三四五六七八九十"


def numbers(cited: str) -> list[str]:
    return re.findall(NUM, cited or "")


def feishu_sections(text: str) -> set[str]:
    """The section numbers docs/feishu-api.md has: `## 5. Limits` → 5, `### 5.1 …` → 5.1."""
    return set(re.findall(r"^#{2,4}\s+(\d+(?:\.\d+)*)\.?\s", text, re.MULTILINE))


def seed_texts() -> dict[str, Path]:
    """Seed id → its text in docs/seeds/ (`000-gtm-milestone-plan.md`, not the YAML lists)."""
    out: dict[str, Path] = {}
    for p in sorted(SEEDS_DIR.glob("[0-9][0-9][0-9]-*")):
        if p.suffix in (".md", ".txt"):
            assert p.name[:3] not in out, f"two texts for seed {p.name[:3]} in docs/seeds/"
            out[p.name[:3]] = p
    return out


def readme_sections() -> dict[str, dict[str, str]]:
    """Seed id → {section number: heading} from the tables of docs/seeds/README.md."""
    out: dict[str, dict[str, str]] = {}
    for line in (SEEDS_DIR / "README.md").read_text(encoding="utf-8").splitlines():
        m = re.match(rf"^\|\s*(\d{{3}})\s+§({NUM})\s*\|\s*([^|]+?)\s*\|", line)
        if m:
            out.setdefault(m.group(1), {})[m.group(2)] = m.group(3)
    return out


def text_sections(seed: str, text: str) -> dict[str, int]:
    """Section number → offset of its heading in a seed text, by the rule docs/seeds/README.md gives:
    000 numbers its `##`/`###` headings in order; 002 and 003 use their own 一、/阶段一/(一) numbering."""
    out: dict[str, int] = {}
    if seed == "000":
        top = sub = 0
        fenced = False
        offset = 0
        for line in text.splitlines(keepends=True):
            if line.startswith("```"):
                fenced = not fenced
            elif not fenced and line.startswith("## "):
                top, sub = top + 1, 0
                out[str(top)] = offset + 3
            elif not fenced and line.startswith("### ") and top:
                sub += 1
                out[f"{top}.{sub}"] = offset + 4
            offset += len(line)
        return out
    sub_re = r"阶段([一二三四五六七八九])[:：]" if seed == "002" else r"\(([一二三四五六七八九])\)"
    top = 0
    for m in re.finditer(rf"(?:^|(?<=[\n。]))([{CN}])、|{sub_re}", text):
        if m.group(1):
            top = CN.index(m.group(1)) + 1
            out[str(top)] = m.start(1)
        elif top:
            out[f"{top}.{CN.index(m.group(2)) + 1}"] = m.start()
    return out


def check_text(rel: str, text: str, feishu: set[str], seeds: dict[str, dict[str, str]],
               seed_files: set[str]) -> list[str]:
    """Problems in one file's text, one line each: where, what was cited, and the right form."""
    problems: list[str] = []
    names_feishu = FEISHU_DOC in text
    in_seeds = rel.startswith("docs/seeds/")
    for no, line in enumerate(text.splitlines(), 1):
        where = f"{rel}:{no}"
        rest = line
        for m in FEISHU_REF.finditer(line):
            if m.group(1) != "docs/":
                problems.append(f"{where}: cites {m.group(0).strip()!r}; the platform facts are in the repository: "
                                f"cite {FEISHU_DOC} §N, e.g. '{FEISHU_DOC} §5.1'")
            for n in numbers(m.group(2)):
                if n not in feishu:
                    problems.append(f"{where}: cites {FEISHU_DOC} §{n}, which it has no heading for "
                                    f"(it has §{', §'.join(sorted(feishu, key=_key))})")
            rest = rest.replace(m.group(0), " ")
        for m in SEED_REF.finditer(line):
            seed, name, cited = m.group(1), m.group(2), m.group(3)
            if seed not in seeds:
                problems.append(f"{where}: cites docs/seeds/{seed}, a seed docs/seeds/README.md does not list "
                                f"(it lists {', '.join(sorted(seeds))})")
            elif name and f"{seed}{name}" not in seed_files:
                problems.append(f"{where}: cites docs/seeds/{seed}{name}, which does not exist; e.g. "
                                f"docs/seeds/{seed} §N")
            for n in numbers(cited):
                if seed in seeds and n not in seeds[seed]:
                    problems.append(f"{where}: cites docs/seeds/{seed} §{n}, a section docs/seeds/README.md does "
                                    f"not list for seed {seed} (it lists §{', §'.join(sorted(seeds[seed], key=_key))})")
            rest = rest.replace(m.group(0), " ")
        if not in_seeds:
            for m in BARE_SEED.finditer(line):
                problems.append(f"{where}: {m.group(0)!r} has no target in the repository; cite the seed's file, "
                                f"e.g. 'docs/seeds/002 §2.4' (numbering in docs/seeds/README.md)")
        if names_feishu and not OTHER_DOC.search(rest):
            for m in BARE_SECTION.finditer(rest):
                for n in filter(None, m.groups()):
                    if n not in feishu:
                        problems.append(f"{where}: §{n} in a file that cites {FEISHU_DOC}, which has no §{n}; "
                                        f"name the document the § belongs to on that line")
    return problems


def _key(n: str) -> tuple[int, ...]:
    return tuple(int(p) for p in n.split("."))


def repo_files() -> list[Path]:
    """Every file of the repository (code, docs, README, deploy, tests) except generated ones and
    this file, whose examples are broken on purpose."""
    out = []
    for dirpath, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and not d.endswith(".egg-info")]
        for name in filenames:
            p = Path(dirpath) / name
            if p.resolve() != Path(__file__).resolve() and p.stat().st_size <= MAX_BYTES:
                out.append(p)
    return sorted(out)


def read_text(p: Path) -> str | None:
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None
    return None if "\x00" in text else text


@pytest.fixture(scope="module")
def known() -> tuple[set[str], dict[str, dict[str, str]], set[str]]:
    feishu = feishu_sections((ROOT / FEISHU_DOC).read_text(encoding="utf-8"))
    return feishu, readme_sections(), {p.name for p in SEEDS_DIR.iterdir()}


def test_every_reference_in_the_repository_has_a_target(known) -> None:
    feishu, seeds, seed_files = known
    problems: list[str] = []
    scanned = 0
    for p in repo_files():
        text = read_text(p)
        if text is None:
            continue
        scanned += 1
        problems += check_text(p.relative_to(ROOT).as_posix(), text, feishu, seeds, seed_files)
    assert scanned > 100, f"only {scanned} text files found under {ROOT}"
    assert not problems, "\n".join(problems)


def test_the_feishu_doc_keeps_the_cited_sections_and_its_used_by_paths_exist(known) -> None:
    feishu, _, _ = known
    # the numbers the code cites; the numbering is shared with the research guide it came from
    for n in ("1", "1.2", "1.3", "2", "2.2", "2.3", "3", "3.1", "3.2", "3.3", "4", "5", "5.1", "5.2", "5.3",
              "6", "6.1", "6.3", "6.5", "7", "8", "8.1", "8.2", "9", "10"):
        assert n in feishu, f"{FEISHU_DOC} lost §{n}"
    text = (ROOT / FEISHU_DOC).read_text(encoding="utf-8")
    missing = sorted({m for m in USED_BY_PATH.findall(text) if not (ROOT / m.rstrip("/")).exists()})
    assert not missing, f"{FEISHU_DOC} lists paths that do not exist: {', '.join(missing)}"


def test_the_seed_readme_numbers_match_the_seed_texts() -> None:
    texts = seed_texts()
    listed = readme_sections()
    assert set(listed) == set(texts), f"README sections for {sorted(listed)}, texts for {sorted(texts)}"
    for seed, sections in listed.items():
        text = texts[seed].read_text(encoding="utf-8")
        where = text_sections(seed, text)
        for n, heading in sections.items():
            assert n in where, f"docs/seeds/README.md lists {seed} §{n}, but {texts[seed].name} has no §{n}"
            assert text.startswith(heading, where[n]), (
                f"docs/seeds/README.md: {seed} §{n} is {heading!r}, but §{n} of {texts[seed].name} starts with "
                f"{text[where[n]:where[n] + len(heading)]!r}")


# -- the checker itself finds each kind of broken reference -----------------------------------------
GUIDE = "feishu-api" + ".md"  # spelled in two parts so this file does not cite it


@pytest.mark.parametrize("line, expected", [
    (f"rates ({GUIDE} §5.1)", "the platform facts are in the repository"),
    (f"see `/srv/notes/{GUIDE}`", "the platform facts are in the repository"),
    (f"see ../shared/{GUIDE} §2.2", "the platform facts are in the repository"),
    (f"limits (docs/{GUIDE} §5.9)", "has no heading for"),
    (f"bodies (docs/{GUIDE} §2.2–§11, §5.3)", "§11, which it has no heading for"),
    ("# 10% over budget (" + "seed" + " 002)", "has no target in the repository"),
    ("from " + "Seeds" + " 000/002/003", "has no target in the repository"),
    ("(docs/seeds/001 §1)", "a seed docs/seeds/README.md does not list"),
    ("(docs/seeds/000 §99)", "a section docs/seeds/README.md does not list"),
    ("(docs/seeds/002-sales.txt)", "which does not exist"),
])
def test_a_broken_reference_is_named(known, line: str, expected: str) -> None:
    feishu, seeds, seed_files = known
    problems = check_text("bot/example.py", f"x = 1\n{line}\n", feishu, seeds, seed_files)
    assert len(problems) >= 1 and expected in problems[0], problems
    assert problems[0].startswith("bot/example.py:2: "), problems


def test_bare_sections_count_only_where_the_file_names_the_doc(known) -> None:
    feishu, seeds, seed_files = known
    cites = f'"""Rates (docs/{GUIDE} §5.1)."""\n'
    assert check_text("a.py", cites + "X = 5  # §6.1\n", feishu, seeds, seed_files) == []
    assert "no §42" in check_text("a.py", cites + "X = 5  # §42\n", feishu, seeds, seed_files)[0]
    # another document on the line, or a file that does not cite the guide: not ours to check
    assert check_text("a.py", cites + "see deploy/feishu-app-setup.md §42\n", feishu, seeds, seed_files) == []
    assert check_text("a.py", "see docs/seeds/002 §2.4 and §2.2\n", feishu, seeds, seed_files) == []
    assert check_text("a.md", "check §42 by hand\n", feishu, seeds, seed_files) == []
    # good citations pass
    good = (f"docs/{GUIDE} §2.2–§3.2, §5.3; docs/seeds/000 §9.1–§9.2; docs/seeds/003-campaign-schedule.txt; "
            f"docs/seeds/002 §2.4")
    assert check_text("a.py", good + "\n", feishu, seeds, seed_files) == []
