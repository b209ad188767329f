"""Read and write ISS groups in the iss-rnns JSON group format.

    {"groups": [[{"var_name": ..., "multi": 1.0, "axis": 1, "start": 0, "end": 830}, ...], ...]}

Each outer entry is one group set: its slices all have end - start components, and component i
takes vector start+i of every slice (`axis` = the dimension the vector runs along, so axis=1
picks rows). `multi` multiplies the global strength; it must be the same for every slice of a
set. Names are Keras variable paths (`lstm/lstm_cell/kernel`); `name_map` translates the
reference's TF1 names. An optional "role" per slice is kept for readability.
"""

from __future__ import annotations

import json
import os

from common.errors import GroupFileError
from common.groups import GroupSlice, ISSGroup, check_group_shapes, find_variables

_REQUIRED = ("var_name", "axis", "start", "end")
_OPTIONAL = ("multi", "role")
_COMMENTS = [
    "var_name: the name of variable",
    "multi: the local multiplier of global decay",
    "axis: the dimension to form groups",
    "start(end): the start(end) index of groups",
]


def _slice_from_json(entry, where: str, name_map) -> tuple[GroupSlice, float]:
    if not isinstance(entry, dict):
        raise GroupFileError(f"{where}: expected an object, got {type(entry).__name__}")
    missing = [k for k in _REQUIRED if k not in entry]
    if missing:
        raise GroupFileError(f"{where}: missing key(s) {', '.join(missing)}")
    unknown = sorted(set(entry) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise GroupFileError(f"{where}: unknown key(s) {', '.join(unknown)}")
    for key in ("axis", "start", "end"):
        if not isinstance(entry[key], int) or isinstance(entry[key], bool):
            raise GroupFileError(f"{where}: {key} must be an integer, got {entry[key]!r}")
    name = entry["var_name"]
    name = (name_map or {}).get(name, name)
    try:
        s = GroupSlice(name, entry["axis"], entry["start"], entry["end"], entry.get("role", ""))
    except ValueError as e:
        raise GroupFileError(f"{where}: {e}") from None
    return s, float(entry.get("multi", 1.0))


def groups_from_json(data, name_map=None, source: str = "groups") -> list[ISSGroup]:
    if not isinstance(data, dict) or "groups" not in data:
        raise GroupFileError(f"{source}: expected an object with a 'groups' list")
    unknown = sorted(set(data) - {"groups", "comments"})
    if unknown:
        raise GroupFileError(f"{source}: unknown top-level key(s) {', '.join(unknown)}")
    if not isinstance(data["groups"], list):
        raise GroupFileError(f"{source}: 'groups' must be a list of group sets")
    groups = []
    for i, entries in enumerate(data["groups"]):
        where = f"{source}: group set {i}"
        if not isinstance(entries, list) or not entries:
            raise GroupFileError(f"{where}: expected a non-empty list of slices")
        parsed = [_slice_from_json(e, f"{where}, slice {j}", name_map) for j, e in enumerate(entries)]
        multis = {m for _, m in parsed}
        if len(multis) != 1:
            raise GroupFileError(f"{where}: slices disagree on 'multi' ({sorted(multis)})")
        try:
            groups.append(ISSGroup(f"group_{i}", tuple(s for s, _ in parsed), multiplier=multis.pop()))
        except ValueError as e:
            raise GroupFileError(f"{where}: {e}") from None
    return groups


def load_groups(path: str, name_map=None) -> list[ISSGroup]:
    """Read a group file; raises GroupFileError (missing file, bad JSON, bad structure)."""
    if not os.path.isfile(path):
        raise GroupFileError(f"group file not found: {path}")
    with open(path, encoding="utf-8") as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as e:
            raise GroupFileError(f"{path}: malformed JSON: {e}") from None
    return groups_from_json(data, name_map, source=path)


def groups_to_json(groups) -> dict:
    return {
        "comments": list(_COMMENTS),
        "groups": [
            [
                {"var_name": s.variable, "multi": g.multiplier, "axis": s.axis, "start": s.start, "end": s.end, "role": s.role}
                for s in g.slices
            ]
            for g in groups
        ],
    }


def save_groups(groups, path: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(groups_to_json(groups), f, indent=1)


def validate_groups(model, groups) -> None:
    """Raise a clear error if a group names an unknown variable or slices out of range."""
    variables = find_variables(model, {p for g in groups for p in g.variables})
    check_group_shapes(groups, {p: tuple(v.shape) for p, v in variables.items()})
