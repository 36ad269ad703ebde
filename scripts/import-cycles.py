#!/usr/bin/env python3
"""Import cycles among the modules under src/ (Python 3, standard library only).

A module is a file (`src/chargers.rs` is `chargers`, `src/charging/stops.rs` is
`charging::stops`) or a folder's `mod.rs` (`src/charging/mod.rs` is `charging`). An edge
A -> B is a path into B written in A: a `use crate::...` (groups included), a `crate::b::...`
path in code, or a `super::`/`self::` path that lands outside A. Comments and string literals
are ignored; `src/lib.rs` and `src/main.rs` are roots, not modules. An edge between a module
and one of its own ancestors or descendants does not count: a parent and its own children may
use each other.

The strongly connected components of more than one module are the cycles. Today's cycles are
listed in a baseline file (one cycle per line, its modules separated by spaces; `#` starts a
comment). The check fails when:

  * a cycle is not contained in one baseline cycle (a new cycle, or a module that joined a
    known one): it prints the cycle path with the file and line of each import;
  * the baseline is out of date: a module it lists is no longer in a cycle (or no longer
    exists). The baseline only shrinks: rewrite it with --write-baseline, which refuses to
    write a new cycle into it.

Usage:
  scripts/import-cycles.py                    check src/ against scripts/import-cycles.baseline
  scripts/import-cycles.py --write-baseline   write today's cycles as the baseline
  scripts/import-cycles.py --self-test        check this script on small synthetic trees
  options: --src DIR, --baseline FILE
"""

import argparse
import os
import re
import sys
import tempfile
from collections import deque

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


# --------------------------------------------------------------------------------------------
# Reading Rust sources

def strip_comments_and_strings(text):
    """The text with comments and the contents of string and char literals blanked out
    (newlines kept, so line numbers still hold)."""
    out = []
    i, n = 0, len(text)

    def blank(s):
        return "".join(c if c == "\n" else " " for c in s)

    while i < n:
        c = text[i]
        nxt = text[i + 1] if i + 1 < n else ""
        if c == "/" and nxt == "/":
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(blank(text[i:j]))
            i = j
        elif c == "/" and nxt == "*":
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(blank(text[i:j]))
            i = j
        elif c in "rb" and re.match(r'(?:br|r)#*"', text[i:i + 260]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'(?:br|r)(#*)"', text[i:])
            hashes = m.group(1)
            start = i + len(m.group(0))
            end = text.find('"' + hashes, start)
            end = n if end < 0 else end + 1 + len(hashes)
            out.append(blank(text[i:end]))
            i = end
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(blank(text[i:j + 1]))
            i = j + 1
        elif c == "'":
            # a char literal ('a', '\n', '\u{1F600}') or a lifetime ('a)
            if nxt == "\\":
                j = text.find("'", i + 3)
                j = n if j < 0 else j
                out.append(blank(text[i:j + 1]))
                i = j + 1
            elif i + 2 < n and text[i + 2] == "'":
                out.append("   ")
                i += 3
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def expand_use_tree(tree):
    """`a::{b, c::{d, e}}` -> ['a::b', 'a::c::d', 'a::c::e'] (globs and `self` dropped; the
    caller removes renames first)."""
    tree = re.sub(r"\s+", "", tree)

    def split_top(s):
        parts, depth, cur = [], 0, ""
        for ch in s:
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            if ch == "," and depth == 0:
                parts.append(cur)
                cur = ""
            else:
                cur += ch
        if cur:
            parts.append(cur)
        return parts

    def go(prefix, s):
        brace = s.find("{")
        if brace < 0:
            path = prefix + s
            path = re.sub(r"::(\*|self)$", "", path)
            return [path.rstrip(":")] if path else []
        head, body = s[:brace], s[brace + 1:s.rfind("}")]
        result = []
        for part in split_top(body):
            result.extend(go(prefix + head, part))
        return result

    return go("", tree)


USE_RE = re.compile(r"\buse\s+([^;]*);", re.S)
PATH_RE = re.compile(r"(?<![A-Za-z0-9_])(crate|super|self)((?:::" + IDENT + r")+)")
MOD_BLOCK_RE = re.compile(r"\bmod\s+(" + IDENT + r")\s*\{")


def module_name(rel):
    """src-relative file path -> module path ('' for lib.rs), or None for the binary root."""
    rel = rel.replace(os.sep, "/")
    if rel == "main.rs" or rel.startswith("bin/"):
        return None
    if rel == "lib.rs":
        return ""
    name = rel[:-3]
    if name.endswith("/mod"):
        name = name[:-4]
    return name.replace("/", "::")


def is_dir_module(rel):
    return rel.replace(os.sep, "/").endswith("mod.rs") or rel == "lib.rs"


def inline_mods_at(text):
    """For each offset, the inline `mod x { ... }` blocks it is inside: a list of
    (start, end, name) spans."""
    spans = []
    for m in MOD_BLOCK_RE.finditer(text):
        depth, j = 1, m.end()
        while j < len(text) and depth:
            if text[j] == "{":
                depth += 1
            elif text[j] == "}":
                depth -= 1
            j += 1
        spans.append((m.start(), j, m.group(1)))
    return spans


def resolve(segments, kind, here, dir_module):
    """Absolute module path segments for a path starting with `crate`, `super` or `self`, seen
    in module `here` (a list of segments, inline modules included); None if it leaves the crate."""
    if kind == "crate":
        return segments
    base = list(here)
    if kind == "super":
        if not base:
            return None
        base = base[:-1]
    # `self::` and `super::super::`
    while segments and segments[0] == "super":
        if not base:
            return None
        base = base[:-1]
        segments = segments[1:]
    return base + segments


def read_graph(src):
    """Modules (name -> file) and edges ((a, b) -> 'file:line' of the first occurrence)."""
    files = {}
    for dirpath, _, names in os.walk(src):
        for f in names:
            if f.endswith(".rs"):
                rel = os.path.relpath(os.path.join(dirpath, f), src)
                name = module_name(rel)
                if name is not None:
                    files[name] = rel
    modules = {m for m in files if m}
    edges = {}
    for name, rel in sorted(files.items()):
        with open(os.path.join(src, rel), encoding="utf-8") as fh:
            text = strip_comments_and_strings(fh.read())
        here_file = name.split("::") if name else []
        spans = inline_mods_at(text)

        def here_at(pos):
            inner = [s for s in spans if s[0] <= pos < s[1]]
            inner.sort()
            return here_file + [s[2] for s in inner]

        found = []  # (pos, kind, segments)
        use_ranges = []
        for m in USE_RE.finditer(text):
            use_ranges.append((m.start(), m.end()))
            body = re.sub(r"\s+as\s+" + IDENT, "", m.group(1))
            for path in expand_use_tree(body):
                segs = path.split("::")
                if segs[0] in ("crate", "super", "self"):
                    found.append((m.start(), segs[0], segs[1:]))
        for m in PATH_RE.finditer(text):
            if any(a <= m.start() < b for a, b in use_ranges):
                continue
            if m.group(1) != "crate" and text[max(0, m.start() - 1)] == "$":
                continue
            found.append((m.start(), m.group(1), m.group(2).strip(":").split("::")))

        for pos, kind, segs in found:
            absolute = resolve(segs, kind, here_at(pos), is_dir_module(rel))
            if absolute is None:
                continue
            target = None
            for k in range(len(absolute), 0, -1):
                cand = "::".join(absolute[:k])
                if cand in modules:
                    target = cand
                    break
            if target is None or not name or target == name:
                continue
            if target.startswith(name + "::") or name.startswith(target + "::"):
                continue  # a parent and its own children
            line = text.count("\n", 0, pos) + 1
            edges.setdefault((name, target), f"src/{rel}:{line}")
    return modules, edges


# --------------------------------------------------------------------------------------------
# Cycles

def sccs(nodes, edges):
    """Tarjan's strongly connected components (iterative), as sorted lists."""
    graph = {n: [] for n in nodes}
    for a, b in edges:
        graph[a].append(b)
    for n in graph:
        graph[n].sort()
    index, low, on_stack, stack, result = {}, {}, set(), [], []
    counter = 0
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on_stack.add(v)
            recurse = False
            for j in range(i, len(graph[v])):
                w = graph[v][j]
                if w not in index:
                    work.append((v, j + 1))
                    work.append((w, 0))
                    recurse = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if recurse:
                continue
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                result.append(sorted(comp))
            if work:
                u = work[-1][0]
                low[u] = min(low[u], low[v])
    return result


def cycle_through(start, members, edges):
    """A shortest cycle start -> ... -> start inside `members` (breadth-first)."""
    members = set(members)
    succ = {}
    for a, b in edges:
        if a in members and b in members:
            succ.setdefault(a, []).append(b)
    prev = {start: None}
    queue = deque([start])
    while queue:
        v = queue.popleft()
        for w in sorted(succ.get(v, [])):
            if w == start:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                path.reverse()
                return path + [start]
            if w not in prev:
                prev[w] = v
                queue.append(w)
    return [start]


def read_baseline(path):
    cycles = []
    if not os.path.exists(path):
        return cycles
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.split("#", 1)[0].split()
            if line:
                cycles.append(set(line))
    return cycles


def write_baseline(path, cycles):
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("# Import cycles among src/ modules that exist today and are yet to be broken, one per\n")
        fh.write("# line (scripts/import-cycles.py). This list may only shrink: a new cycle, or a module\n")
        fh.write("# joining one of these, fails the check. Rewrite with scripts/import-cycles.py --write-baseline.\n")
        for comp in cycles:
            fh.write(" ".join(comp) + "\n")


def check(src, baseline_path, out=sys.stdout):
    """0 when every cycle is a known one and the baseline is up to date, 1 otherwise."""
    modules, edges = read_graph(src)
    cycles = [c for c in sccs(modules, edges) if len(c) > 1]
    baseline = read_baseline(baseline_path)
    failed = False

    for comp in cycles:
        home = next((b for b in baseline if set(comp) <= b), None)
        if home is not None:
            continue
        failed = True
        # the modules that make it new: not in any baseline cycle that holds most of this one
        best = max(baseline, key=lambda b: len(b & set(comp)), default=set())
        new = [m for m in comp if m not in best] or comp
        print(f"FAIL: new import cycle among {len(comp)} modules: {' '.join(comp)}", file=out)
        if best and best & set(comp):
            print(f"  joins a known cycle; not in it before: {' '.join(new)}", file=out)
        path = cycle_through(new[0], comp, edges)
        print("  cycle: " + " -> ".join(path), file=out)
        for a, b in zip(path, path[1:]):
            print(f"    {a} -> {b}  ({edges[(a, b)]})", file=out)
        print("  Break it (the dependency should point one way), or, if it is a parent and its own", file=out)
        print("  children, it is already allowed and this is a bug in the script.", file=out)

    in_cycles = set().union(*cycles) if cycles else set()
    stale = sorted(m for b in baseline for m in b if m not in in_cycles)
    if stale:
        failed = True
        print(f"FAIL: the baseline can shrink: no longer in an import cycle: {' '.join(stale)}", file=out)
        print(f"  Update it: scripts/import-cycles.py --write-baseline (writes {os.path.relpath(baseline_path, ROOT) if baseline_path.startswith(ROOT) else baseline_path})", file=out)

    known = sorted(in_cycles & set().union(*baseline)) if baseline else []
    print(
        f"import cycles: {len(modules)} modules, {len(edges)} edges; {len(known)} modules remain in "
        f"{len([c for c in cycles if any(set(c) <= b for b in baseline)])} baseline cycle(s)"
        + (f" (largest: {max(len(c) for c in cycles)})" if cycles else ""),
        file=out,
    )
    if not failed:
        print("import cycles: OK (no new cycle)", file=out)
    return 1 if failed else 0


# --------------------------------------------------------------------------------------------
# Self-test

def self_test():
    import io

    def tree(files):
        d = tempfile.mkdtemp(prefix="import-cycles-")
        for rel, text in files.items():
            p = os.path.join(d, "src", rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "w", encoding="utf-8") as fh:
                fh.write(text)
        return d

    def run(files, baseline_lines):
        d = tree(files)
        base = os.path.join(d, "baseline")
        with open(base, "w", encoding="utf-8") as fh:
            fh.write("\n".join(baseline_lines) + "\n")
        out = io.StringIO()
        code = check(os.path.join(d, "src"), base, out)
        return code, out.getvalue(), d

    failures = []

    def expect(label, cond, detail=""):
        if not cond:
            failures.append(f"{label}: {detail}")

    acyclic = {
        "lib.rs": "pub mod a; pub mod b; pub mod c;\n",
        "a.rs": "use crate::b::Thing;\n",
        "b.rs": "// use crate::a::X; (a comment)\nconst S: &str = \"crate::a::X\";\nconst R: &str = r#\"use crate::a::Y;\"#;\n",
        # a parent and its own child use each other: allowed
        "c/mod.rs": "pub mod d;\nuse self::d::Inner;\npub fn f() { crate::c::d::g() }\n",
        "c/d.rs": "use super::f;\nuse crate::c::Top;\nfn g() { let c = 'x'; let l: &'static str = \"\"; }\n",
    }
    code, out, _ = run(acyclic, [])
    expect("acyclic tree passes", code == 0, out)

    # parsing: groups, nested groups, super:: to a sibling, code paths
    d = tree({
        "lib.rs": "",
        "p/mod.rs": "pub mod q; pub mod r;\n",
        "p/q.rs": "use crate::{x::{self, Y}, z::W as V};\nuse super::r::T;\nfn f() { crate::w::go(); }\n",
        "p/r.rs": "#[cfg(test)]\nmod tests {\n    use super::*;\n    use super::super::q::U;\n}\n",
        "x.rs": "", "z.rs": "", "w/mod.rs": "",
    })
    _, edges = read_graph(os.path.join(d, "src"))
    got = sorted(edges)
    want = sorted([("p::q", "x"), ("p::q", "z"), ("p::q", "p::r"), ("p::q", "w"), ("p::r", "p::q")])
    expect("edges from use groups, super:: and code paths", got == want, f"{got} != {want}")

    cyclic = dict(acyclic)
    cyclic["b.rs"] = "use crate::a::X;\n"
    code, out, _ = run(cyclic, [])
    expect("a new cycle fails", code == 1 and "new import cycle" in out and "a -> b -> a" in out, out)
    expect("the cycle names the import's file and line", "src/b.rs:1" in out, out)

    code, out, _ = run(cyclic, ["a b"])
    expect("a known cycle passes", code == 0 and "2 modules remain in 1 baseline cycle" in out, out)

    joined = dict(cyclic)
    joined["c/mod.rs"] = "pub mod d;\nuse crate::a::X;\n"
    joined["a.rs"] = "use crate::b::Thing;\nuse crate::c::Y;\n"
    code, out, _ = run(joined, ["a b"])
    expect("a module joining a known cycle fails", code == 1 and "not in it before: c" in out, out)

    code, out, _ = run(acyclic, ["a b"])
    expect("a stale baseline fails and says it can shrink", code == 1 and "baseline can shrink" in out and "a b" in out, out)

    code, out, _ = run(cyclic, ["a b c"])
    expect("a baseline entry out of any cycle is reported", code == 1 and "no longer in an import cycle: c" in out, out)

    if failures:
        for f in failures:
            print("self-test FAIL:", f)
        return 1
    print("import-cycles self-test: OK")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", default=os.path.join(ROOT, "src"))
    ap.add_argument("--baseline", default=os.path.join(HERE, "import-cycles.baseline"))
    ap.add_argument("--write-baseline", action="store_true")
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args(argv)
    if args.self_test:
        return self_test()
    if args.write_baseline:
        modules, edges = read_graph(args.src)
        cycles = [c for c in sccs(modules, edges) if len(c) > 1]
        baseline = read_baseline(args.baseline)
        new = [c for c in cycles if not any(set(c) <= b for b in baseline)]
        if os.path.exists(args.baseline) and new:
            check(args.src, args.baseline)
            print("refusing to write a baseline with a new cycle: the baseline only shrinks "
                  "(delete the file to start one from scratch)")
            return 1
        write_baseline(args.baseline, cycles)
        print(f"wrote {args.baseline}: {len(cycles)} cycle(s), {sum(map(len, cycles))} modules")
        return 0
    return check(args.src, args.baseline)


if __name__ == "__main__":
    sys.exit(main())
