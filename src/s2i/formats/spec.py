"""FormatSpec: a declarative skeleton format (joints, bone tree, centre, left/right, body parts).

Specs are YAML files with the fields below; the built-in ones live in ``formats/specs/`` and a user's
own file is loaded the same way, by path. Validation errors name the file and the offending field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:  # NumPy is imported where an index array is made: `s2i formats` never needs it
    import numpy as np

__all__ = ["PART_NAMES", "FormatSpec", "FormatSpecError", "load_format_file"]

#: The five S2I body parts in image order (S2I.md section 3).
PART_NAMES: tuple[str, ...] = ("torso", "left_arm", "right_arm", "left_leg", "right_leg")


class FormatSpecError(ValueError):
    """A format spec is malformed; the message names the source and the field."""


@dataclass(frozen=True)
class FormatSpec:
    """A skeleton format.

    joints: names in storage order (index = joint id in the data).
    parents: parent name of each joint (None for the root); defines bones and the bone stream.
    center: joint name(s) whose mean is the body centre (pelvis / spine base).
    left_right: (left, right) joint name pairs, for mirroring augmentations.
    parts: the five S2I parts, each a proximal-to-distal list of joint names; every joint is in
        exactly one part.
    hips / shoulders: (left, right) pairs used for view alignment and torso length.
    dims: 3 for 3D formats, 2 for image-plane formats (x, y + confidence).
    y_down: the y axis points down (image coordinates); the encoder flips it when it does not rotate
        the view (2D data), so every format's images show the body the same way up.
    source_names: joint -> the name(s) it has in the files (BVH joints, ASF bones), tried in order;
        a joint without an entry is looked up by its own name.
    """

    name: str
    joints: tuple[str, ...]
    parents: tuple[str | None, ...]
    center: tuple[str, ...]
    parts: dict[str, tuple[str, ...]]
    left_right: tuple[tuple[str, str], ...] = ()
    hips: tuple[str, str] | None = None
    shoulders: tuple[str, str] | None = None
    dims: int = 3
    y_down: bool = False
    description: str = ""
    units: str = ""
    aliases: tuple[str, ...] = ()
    source_names: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False)
    source: str = "<built-in>"
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        _validate(self)

    # --- index views (cached; the spec is immutable) -------------------------------------
    @property
    def num_joints(self) -> int:
        return len(self.joints)

    def index(self, joint: str) -> int:
        """Index of a joint name; raises a FormatSpecError naming the format."""
        try:
            return self._index[joint]
        except KeyError:
            raise FormatSpecError(f"format {self.name!r} has no joint {joint!r}") from None

    @cached_property
    def _index(self) -> dict[str, int]:
        return {j: i for i, j in enumerate(self.joints)}

    @cached_property
    def parent_indices(self) -> np.ndarray:
        """(V,) int64 parent index of each joint; the root is its own parent (bone = 0)."""
        import numpy as np

        return np.array(
            [i if p is None else self._index[p] for i, p in enumerate(self.parents)], dtype=np.int64
        )

    @cached_property
    def bones(self) -> list[tuple[int, int]]:
        """(child, parent) index pairs, root excluded."""
        return [(i, int(p)) for i, p in enumerate(self.parent_indices) if p != i]

    @cached_property
    def center_indices(self) -> np.ndarray:
        import numpy as np

        return np.array([self._index[j] for j in self.center], dtype=np.int64)

    @cached_property
    def part_indices(self) -> list[np.ndarray]:
        """Joint indices of each part in :data:`PART_NAMES` order, proximal to distal."""
        import numpy as np

        return [np.array([self._index[j] for j in self.parts[p]], dtype=np.int64) for p in PART_NAMES]

    @cached_property
    def flip_indices(self) -> np.ndarray:
        """(V,) permutation that swaps left and right joints (identity for the rest)."""
        import numpy as np

        perm = np.arange(self.num_joints)
        for a, b in self.left_right:
            ia, ib = self._index[a], self._index[b]
            perm[ia], perm[ib] = ib, ia
        return perm

    def subset(self, other: FormatSpec) -> dict[str, str]:
        """Joint names shared with another format (by exact name)."""
        return {j: j for j in self.joints if j in other._index}

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain YAML-ready data (the same fields a user's file has)."""
        d: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "dims": self.dims,
            "y_down": self.y_down,
            "units": self.units,
            "aliases": list(self.aliases),
            "joints": list(self.joints),
            "parents": {j: p for j, p in zip(self.joints, self.parents)},
            "center": list(self.center),
            "left_right": [list(p) for p in self.left_right],
            "parts": {p: list(self.parts[p]) for p in PART_NAMES},
        }
        if self.hips:
            d["hips"] = list(self.hips)
        if self.shoulders:
            d["shoulders"] = list(self.shoulders)
        if self.source_names:
            d["source_names"] = {j: list(v) if len(v) > 1 else v[0] for j, v in self.source_names.items()}
        if self.extra:
            d["extra"] = dict(self.extra)
        return d

    def names_in_file(self, joint: str) -> tuple[str, ...]:
        """The names a joint may have in a file (its ``source_names``, else its own name)."""
        return self.source_names.get(joint) or (joint,)

    def to_yaml(self) -> str:
        """The spec as YAML text (what ``s2i formats show NAME --yaml`` prints; a store keeps it)."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>") -> FormatSpec:
        """Build a spec from parsed YAML; every structural problem raises FormatSpecError."""
        _check_fields(data, source)
        joints = data["joints"]
        if not isinstance(joints, list) or not all(isinstance(j, str) for j in joints):
            raise FormatSpecError(f"{source}: 'joints' must be a list of joint names")
        parts = data["parts"]
        if not isinstance(parts, dict):
            raise FormatSpecError(f"{source}: 'parts' must map part names to joint lists")
        center = data["center"]
        lr = data.get("left_right") or []
        for i, p in enumerate(lr):
            if not (isinstance(p, list) and len(p) == 2):
                raise FormatSpecError(f"{source}: left_right[{i}] must be a [left, right] pair, got {p!r}")
        return cls(
            name=str(data["name"]),
            joints=tuple(joints),
            parents=_parents(data["parents"], joints, source),
            center=(center,) if isinstance(center, str) else tuple(center or ()),
            parts={str(k): tuple(v or ()) for k, v in parts.items()},
            left_right=tuple((str(a), str(b)) for a, b in lr),
            hips=_pair(data, "hips", source),
            shoulders=_pair(data, "shoulders", source),
            dims=int(data.get("dims", 3)),
            y_down=bool(data.get("y_down", False)),
            description=str(data.get("description", "")).strip(),
            units=str(data.get("units", "")),
            aliases=tuple(data.get("aliases") or ()),
            source_names=_source_names(data.get("source_names"), joints, source),
            source=source,
            extra=dict(data.get("extra") or {}),
        )


_KNOWN_FIELDS = {"name", "description", "dims", "y_down", "units", "aliases", "joints", "parents", "center",
                 "left_right", "parts", "hips", "shoulders", "source_names", "extra"}


def _check_fields(data: Any, source: str) -> None:
    if not isinstance(data, dict):
        raise FormatSpecError(f"{source}: a format spec must be a mapping, got {type(data).__name__}")
    unknown = sorted(set(data) - _KNOWN_FIELDS)
    if unknown:
        raise FormatSpecError(f"{source}: unknown field(s) {unknown}; expected some of {sorted(_KNOWN_FIELDS)}")
    for req in ("name", "joints", "parents", "center", "parts"):
        if req not in data:
            raise FormatSpecError(f"{source}: missing required field {req!r}")


def _parents(parents_raw: Any, joints: list[str], source: str) -> tuple[str | None, ...]:
    if isinstance(parents_raw, dict):
        missing = [j for j in joints if j not in parents_raw]
        if missing:
            raise FormatSpecError(f"{source}: 'parents' has no entry for joint(s) {missing}")
        extra_keys = [k for k in parents_raw if k not in joints]
        if extra_keys:
            raise FormatSpecError(f"{source}: 'parents' names unknown joint(s) {extra_keys}")
        return tuple(parents_raw[j] for j in joints)
    if isinstance(parents_raw, list):
        if len(parents_raw) != len(joints):
            raise FormatSpecError(f"{source}: 'parents' has {len(parents_raw)} entries for {len(joints)} joints")
        return tuple(parents_raw)
    raise FormatSpecError(f"{source}: 'parents' must be a mapping joint -> parent (or a list)")


def _pair(data: dict[str, Any], key: str, source: str) -> tuple[str, str] | None:
    v = data.get(key)
    if v is None:
        return None
    if not (isinstance(v, list) and len(v) == 2):
        raise FormatSpecError(f"{source}: {key!r} must be a [left, right] pair, got {v!r}")
    return (str(v[0]), str(v[1]))


def _source_names(raw: Any, joints: list[str], source: str) -> dict[str, tuple[str, ...]]:
    """``source_names``: joint -> a name or a list of names it has in the files."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise FormatSpecError(f"{source}: 'source_names' must map joint names to the name(s) in the files")
    out: dict[str, tuple[str, ...]] = {}
    for j, v in raw.items():
        if j not in joints:
            raise FormatSpecError(f"{source}: 'source_names' names unknown joint {j!r}; expected one of 'joints'")
        names = (v,) if isinstance(v, str) else tuple(v) if isinstance(v, list) else None
        if not names or not all(isinstance(n, str) and n for n in names):
            raise FormatSpecError(f"{source}: source_names[{j!r}] must be a name or a list of names, got {v!r}")
        out[str(j)] = names
    return out


def _validate(spec: FormatSpec) -> None:
    src = f"{spec.source}: format {spec.name!r}"
    _validate_joints(spec, src)
    _validate_tree(spec, src)
    _validate_parts(spec, src)
    seen = set(spec.joints)
    if not spec.center:
        raise FormatSpecError(f"{src}: 'center' must name at least one joint")
    for c in spec.center:
        if c not in seen:
            raise FormatSpecError(f"{src}: centre joint {c!r} is not in 'joints'")
    for pair_name, pair_val in (("hips", spec.hips), ("shoulders", spec.shoulders)):
        for j in pair_val or ():
            if j not in seen:
                raise FormatSpecError(f"{src}: field {pair_name!r}: joint {j!r} is not in 'joints'")
    for a, b in spec.left_right:
        for j in (a, b):
            if j not in seen:
                raise FormatSpecError(f"{src}: left_right pair ({a!r}, {b!r}) names unknown joint {j!r}")
    if spec.dims not in (2, 3):
        raise FormatSpecError(f"{src}: dims must be 2 or 3, got {spec.dims}")


def _validate_joints(spec: FormatSpec, src: str) -> None:
    if not spec.joints:
        raise FormatSpecError(f"{src}: no joints")
    seen: set[str] = set()
    for j in spec.joints:
        if j in seen:
            raise FormatSpecError(f"{src}: joint {j!r} is listed twice in 'joints'")
        seen.add(j)
    if len(spec.parents) != len(spec.joints):
        raise FormatSpecError(f"{src}: {len(spec.parents)} parents for {len(spec.joints)} joints")
    for j, p in zip(spec.joints, spec.parents):
        if p is not None and p not in seen:
            raise FormatSpecError(f"{src}: joint {j!r} has unknown parent {p!r}")
        if p == j:
            raise FormatSpecError(f"{src}: joint {j!r} is its own parent (use null for the root)")


def _validate_tree(spec: FormatSpec, src: str) -> None:
    """No cycles: follow parents from every joint; a walk that revisits a joint has looped."""
    parent_of = dict(zip(spec.joints, spec.parents))
    for j in spec.joints:
        path = [j]
        cur = parent_of[j]
        while cur is not None:
            if cur in path:
                cycle = " -> ".join(path[path.index(cur):] + [cur])
                raise FormatSpecError(f"{src}: the bone tree has a cycle: {cycle}")
            path.append(cur)
            cur = parent_of[cur]


def _validate_parts(spec: FormatSpec, src: str) -> None:
    if set(spec.parts) != set(PART_NAMES):
        missing = [p for p in PART_NAMES if p not in spec.parts]
        unknown = [p for p in spec.parts if p not in PART_NAMES]
        raise FormatSpecError(
            f"{src}: 'parts' must have exactly {list(PART_NAMES)}"
            + (f"; missing {missing}" if missing else "")
            + (f"; unknown {unknown}" if unknown else "")
        )
    seen = set(spec.joints)
    owner: dict[str, str] = {}
    for part in PART_NAMES:
        members = spec.parts[part]
        if not members:
            raise FormatSpecError(f"{src}: part {part!r} has no joints")
        for j in members:
            if j not in seen:
                raise FormatSpecError(f"{src}: part {part!r} names unknown joint {j!r}")
            if j in owner:
                raise FormatSpecError(f"{src}: joint {j!r} is in two parts ({owner[j]!r} and {part!r})")
            owner[j] = part
    unassigned = [j for j in spec.joints if j not in owner]
    if unassigned:
        raise FormatSpecError(
            f"{src}: joint(s) {unassigned} are in no part; every joint must be in exactly one"
            " (put extra detail at the distal end of the nearest part)"
        )


def load_format_file(path: str | Path) -> FormatSpec:
    """Load and validate a format spec from a YAML file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise FormatSpecError(f"{p}: cannot read format spec ({e.strerror})") from e
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise FormatSpecError(f"{p}:{where} invalid YAML: {getattr(e, 'problem', e)}") from e
    return FormatSpec.from_dict(data, source=str(p))
