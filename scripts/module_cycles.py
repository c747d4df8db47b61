#!/usr/bin/env python3
"""Fails when the module import graph of a crate has a circle.

Nodes are the crate's file modules (`a/b.rs` and `a/b/mod.rs` are `a::b`). An edge A -> B means a path in A's
source names B or something inside B (`crate::…`, `super::…`, `self::…`, including `use` groups). A module's
use of its own ancestors or descendants is containment, not an import, and is not an edge. Every strongly
connected component of more than one module is reported.

Usage: scripts/module_cycles.py app/src server/src
"""
import os
import re
import sys

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def modules(root):
    mods = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            if not f.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, f), root)[:-3].split(os.sep)
            if rel[-1] == "mod" or (len(rel) == 1 and rel[0] in ("lib", "main")):
                rel = rel[:-1]
            mods[tuple(rel)] = os.path.join(dirpath, f)
    return mods


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def expand(path):
    """`a::{b, c::{d}}` -> [a::b, a::c::d] (segments lists)."""
    path = path.strip()
    i = path.find("{")
    if i < 0:
        return [[s for s in path.split("::") if s and s not in ("*", "self")]]
    head = [s for s in path[:i].split("::") if s]
    inner = path[i + 1 : path.rfind("}")]
    items, depth, cur = [], 0, ""
    for ch in inner:
        depth += ch == "{"
        depth -= ch == "}"
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
        else:
            cur += ch
    items.append(cur)
    out = []
    for it in items:
        if it.strip():
            for tail in expand(it):
                out.append(head + tail)
    return out


PATH = re.compile(r"\b(crate|super|self)((?:::(?:super|" + IDENT + r"))*)(::\{)?")


def references(text):
    """Every path starting at crate/super/self, with `use` groups expanded."""
    text = strip_comments(text)
    for m in PATH.finditer(text):
        start = m.start()
        if start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_:"):
            continue
        head = m.group(1) + m.group(2)
        if m.group(3):
            j, depth = m.end(), 1
            while depth and j < len(text):
                depth += text[j] == "{"
                depth -= text[j] == "}"
                j += 1
            for segs in expand(head + "::{" + text[m.end() : j]):
                yield segs
        else:
            yield head.split("::")


def resolve(segs, here, mods):
    cur = []
    if segs[0] == "crate":
        segs = segs[1:]
    else:
        cur = list(here)
        if segs[0] == "self":
            segs = segs[1:]
        while segs and segs[0] == "super":
            cur = cur[:-1]
            segs = segs[1:]
    best = None
    path = list(cur)
    if tuple(path) in mods:
        best = tuple(path)
    for s in segs:
        path.append(s)
        if tuple(path) in mods:
            best = tuple(path)
        else:
            break
    return best


def is_prefix(a, b):
    return len(a) <= len(b) and b[: len(a)] == a


def cycles(root):
    mods = modules(root)
    edges = {m: set() for m in mods}
    for here, file in mods.items():
        with open(file, encoding="utf-8") as f:
            text = f.read()
        for segs in references(text):
            target = resolve(segs, here, mods)
            if target is None or is_prefix(target, here) or is_prefix(here, target):
                continue
            edges[here].add(target)
    # Tarjan's strongly connected components.
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    sys.setrecursionlimit(10000)
    for v in mods:
        if v not in index:
            visit(v)
    return out, edges


def main():
    failed = False
    for root in sys.argv[1:] or ["app/src", "server/src"]:
        comps, edges = cycles(root)
        n = sum(len(e) for e in edges.values())
        print(f"{root}: {len(edges)} modules, {n} imports, {len(comps)} circles")
        for comp in comps:
            failed = True
            names = sorted("::".join(c) or "(root)" for c in comp)
            print("  circle: " + ", ".join(names))
            members = set(comp)
            for c in sorted(comp):
                inside = sorted("::".join(t) for t in edges[c] if t in members)
                print(f"    {'::'.join(c)} -> {', '.join(inside)}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
