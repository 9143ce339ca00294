"""Acclaim ASF (skeleton) + AMC (motion) files, as in the CMU mocap database -> joint positions.

Each ASF bone has a local frame C from ``axis ax ay az ORDER`` (rotations applied in the listed
order, so "XYZ" gives C = Rz(az) @ Ry(ay) @ Rx(ax) on column vectors), a unit ``direction`` and a
``length``. An AMC frame gives each bone's dof angles; M is their rotation applied in the ``dof``
order. A bone's world rotation is ``W = W_parent @ C @ M @ C^-1`` and its end is
``start + W @ (direction * length)``; a bone starts where its parent ends (the root's children at
the root position). The root uses ``:root order`` for its AMC values and ``axis``/``orientation``
for C. Joint positions are bone START points, named by a format's ``extra.asf_names`` (cmu31 by
default). Axes and lengths are the file's (CMU: Y up, 1 unit = 1/0.45 inch; ``scale`` rescales,
e.g. ``CMU_UNIT_TO_METRES``). Angles are degrees unless ``:units angle rad`` / AMC ``:RADIANS``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..formats import FormatSpec, FormatSpecError, get_format
from ..skeleton import SkeletonSequence
from .base import ReaderError, read_bytes, register_reader
from .bvh import CMU_NAME, CMU_UNIT_TO_METRES
from .kinematics import euler_matrix, forward_kinematics
from .text_frames import decode_text

__all__ = ["AsfBone", "AsfSkeleton", "CMU_UNIT_TO_METRES", "find_asf", "read_amc", "read_amc_file",
           "read_asf", "read_asf_amc", "asf_positions"]

_ROOT_DOFS = ("tx", "ty", "tz", "rx", "ry", "rz")
_BONE_DOFS = ("rx", "ry", "rz")
_INT = re.compile(r"[0-9]+")
_ORDER = re.compile(r"[XYZ]{3}", re.IGNORECASE)


@dataclass
class AsfBone:
    """One ASF bone: direction (unit, parent-independent world axes), length, axis angles (radians)
    with their order, dof names in application order, and the parent bone ("root" for the root's)."""

    name: str
    direction: np.ndarray
    length: float
    axis: np.ndarray
    axis_order: str
    dof: tuple[str, ...]
    parent: str = ""
    line: int = 0

    @property
    def vector(self) -> np.ndarray:
        return self.direction * self.length


@dataclass
class AsfSkeleton:
    """A parsed ASF file. Angles are stored in radians; lengths in the file's units."""

    source: str
    name: str = ""
    length_unit: float = 1.0
    angle_unit: str = "deg"
    root_order: tuple[str, ...] = _ROOT_DOFS
    root_axis: str = "XYZ"
    root_position: np.ndarray = field(default_factory=lambda: np.zeros(3))
    root_orientation: np.ndarray = field(default_factory=lambda: np.zeros(3))
    bones: dict[str, AsfBone] = field(default_factory=dict)

    def order(self) -> list[str]:
        """"root" then every bone, parents before children (hierarchy order, depth first)."""
        children: dict[str, list[str]] = {}
        for b in self.bones.values():
            children.setdefault(b.parent, []).append(b.name)
        out, stack = [], ["root"]
        while stack:
            n = stack.pop()
            out.append(n)
            stack.extend(reversed(children.get(n, [])))
        return out


def _read_text(path: Path) -> list[str]:
    """The file's lines (split on newlines only, so numbers match an editor's); UTF-8, or Latin-1 / cp1252
    (accented comments and names), binary data is an error."""
    return decode_text(path, read_bytes(path, what="text file"), "text file").split("\n")


def _token_lines(raw: list[str], start: int = 0) -> list[tuple[int, list[str]]]:
    """(1-based line number, tokens) of the non-blank lines from ``start``, '#' comments removed."""
    out = []
    for i in range(start, len(raw)):
        toks = raw[i].split("#", 1)[0].split()
        if toks:
            out.append((i + 1, toks))
    return out


def _floats(path: Path, toks: list[str], n: int, what: str, line: int) -> np.ndarray:
    if len(toks) < n:
        raise ReaderError(path, f"{what} needs {n} numbers, got {len(toks)}", line)
    try:
        v = np.array(toks[:n], dtype=np.float64)
    except ValueError:
        raise ReaderError(path, f"{what} must be numbers, got {' '.join(toks[:n])[:60]!r}", line) from None
    if not np.isfinite(v).all():
        raise ReaderError(path, f"non-finite number in {what}", line)
    return v


def _order(path: Path, tok: str, line: int) -> str:
    o = tok.upper()
    if not _ORDER.fullmatch(o) or set(o) != set("XYZ"):
        raise ReaderError(path, f"rotation order must be a permutation of XYZ, got {tok[:20]!r}", line)
    return o


def read_asf(path: str | Path) -> AsfSkeleton:
    """Parse an ASF skeleton (units, root, bones, hierarchy); every problem names file and line."""
    p = Path(path)
    return _AsfParser(p).parse(_token_lines(_read_text(p)))


class _AsfParser:
    """The state of one ASF parse: the current section, the open bone block, the hierarchy block."""

    def __init__(self, p: Path) -> None:
        self.p = p
        self.sk = AsfSkeleton(source=str(p))
        self.raw_axes: list[tuple[AsfBone, np.ndarray]] = []
        self.root_orient = np.zeros(3)
        self.section: str | None = None
        self.bone: dict | None = None
        self.hier_open = False
        self.seen: set[str] = set()

    def parse(self, lines: list[tuple[int, list[str]]]) -> AsfSkeleton:
        sections = {":units": self._units_line, ":root": self._root_line, ":bonedata": self._bone_line,
                    ":hierarchy": self._hierarchy_line}
        for ln, toks in lines:
            key = toks[0].lower()
            if key.startswith(":"):
                self._section(ln, toks, key)
                continue
            if self.section is None:
                raise ReaderError(self.p, f"expected a ':keyword' section header, got {toks[0][:40]!r}", ln)
            handler = sections.get(self.section)
            if handler is not None:  # other sections (:version, :documentation, :skin, ...) carry nothing we need
                handler(ln, toks, key)
        return self._finish(lines[-1][0] if lines else 1)

    def _section(self, ln: int, toks: list[str], key: str) -> None:
        if self.bone is not None:
            raise ReaderError(self.p, f"{toks[0]} inside the bone block begun on line {self.bone['line']}"
                              " (missing 'end')", ln)
        self.section = key
        self.seen.add(key)
        if key == ":name":
            self.sk.name = " ".join(toks[1:])
        elif key == ":units" and len(toks) > 1:
            _units(self.p, self.sk, toks[1:], ln)

    def _units_line(self, ln: int, toks: list[str], key: str) -> None:
        _units(self.p, self.sk, toks, ln)

    def _root_line(self, ln: int, toks: list[str], key: str) -> None:
        p, sk = self.p, self.sk
        if key == "order":
            order = tuple(t.lower() for t in toks[1:])
            if not order or any(t not in _ROOT_DOFS for t in order) or len(set(order)) != len(order):
                raise ReaderError(p, "root order must list distinct TX TY TZ RX RY RZ,"
                                  f" got {' '.join(toks[1:])[:60]!r}", ln)
            sk.root_order = order
        elif key == "axis":
            if len(toks) != 2:
                raise ReaderError(p, "root axis needs one rotation order like XYZ", ln)
            sk.root_axis = _order(p, toks[1], ln)
        elif key == "position":
            sk.root_position = _floats(p, toks[1:], 3, "root position", ln)
        elif key == "orientation":
            self.root_orient = _floats(p, toks[1:], 3, "root orientation", ln)
        else:
            raise ReaderError(p, f"unknown keyword {toks[0][:40]!r} in :root", ln)

    def _bone_line(self, ln: int, toks: list[str], key: str) -> None:
        p = self.p
        if key == "begin":
            if self.bone is not None:
                raise ReaderError(p, f"'begin' inside the bone block begun on line {self.bone['line']}", ln)
            self.bone = {"line": ln}
        elif self.bone is None:
            raise ReaderError(p, f"expected 'begin' of a bone block, got {toks[0][:40]!r}", ln)
        elif key == "end":
            b = _make_bone(p, self.bone)
            if b.name in self.sk.bones or b.name == "root":
                raise ReaderError(p, f"bone name {b.name!r} is used twice", self.bone["line"])
            self.sk.bones[b.name] = b
            self.raw_axes.append((b, self.bone["axis"]))
            self.bone = None
        elif key in ("id", "bodymass", "cofmass") or key.startswith(("limits", "(")):
            pass  # joint limits and masses are not needed for forward kinematics
        else:
            _bone_field(p, self.bone, ln, toks, key)

    def _hierarchy_line(self, ln: int, toks: list[str], key: str) -> None:
        p, sk = self.p, self.sk
        if key in ("begin", "end"):
            self.hier_open = key == "begin"
            return
        if not self.hier_open:
            raise ReaderError(p, f"expected 'begin' in :hierarchy, got {toks[0][:40]!r}", ln)
        parent = toks[0]
        if parent != "root" and parent not in sk.bones:
            raise ReaderError(p, f"hierarchy names unknown bone {parent[:40]!r}", ln)
        for c in toks[1:]:
            if c not in sk.bones:
                raise ReaderError(p, f"hierarchy names unknown bone {c[:40]!r}", ln)
            if sk.bones[c].parent:
                raise ReaderError(p, f"bone {c!r} has two parents ({sk.bones[c].parent!r} and {parent!r})", ln)
            sk.bones[c].parent = parent

    def _finish(self, end_line: int) -> AsfSkeleton:
        p, sk = self.p, self.sk
        if self.bone is not None:
            raise ReaderError(p, f"file ends inside the bone block begun on line {self.bone['line']}", end_line)
        for need in (":root", ":bonedata", ":hierarchy"):
            if need not in self.seen:
                raise ReaderError(p, f"no {need} section (truncated or not an ASF file?)", end_line)
        if self.hier_open:
            raise ReaderError(p, "file ends inside :hierarchy (missing 'end')", end_line)
        orphans = [b.name for b in sk.bones.values() if not b.parent]
        if orphans:
            raise ReaderError(p, f"bone(s) {orphans[:8]} are not in :hierarchy", end_line)
        reached = set(sk.order())
        cyclic = [b for b in sk.bones if b not in reached]
        if cyclic:
            raise ReaderError(p, f"bone(s) {cyclic[:8]} are not connected to the root (cycle in :hierarchy)",
                              end_line)
        unit = np.pi / 180 if sk.angle_unit == "deg" else 1.0
        sk.root_orientation = self.root_orient * unit
        for b, (ax, _) in self.raw_axes:
            b.axis = ax * unit
        return sk


def _bone_field(p: Path, bone: dict, ln: int, toks: list[str], key: str) -> None:
    """One field line of a bone block: name, direction, length, axis, dof."""
    if key == "name":
        if len(toks) != 2:
            raise ReaderError(p, "bone 'name' needs exactly one name", ln)
        bone["name"] = toks[1]
    elif key == "direction":
        bone["direction"] = _floats(p, toks[1:], 3, "bone direction", ln)
    elif key == "length":
        v = _floats(p, toks[1:], 1, "bone length", ln)[0]
        if v < 0:
            raise ReaderError(p, f"bone length must be >= 0, got {v}", ln)
        bone["length"] = v
    elif key == "axis":
        if len(toks) != 5:
            raise ReaderError(p, "bone axis needs 3 angles and an order (e.g. 0 0 20 XYZ)", ln)
        bone["axis"] = (_floats(p, toks[1:4], 3, "bone axis", ln), _order(p, toks[4], ln))
    elif key == "dof":
        dof = tuple(t.lower() for t in toks[1:])
        bad = [t for t in dof if t not in _BONE_DOFS]
        if bad or len(set(dof)) != len(dof):
            raise ReaderError(p, f"unsupported or repeated bone dof {' '.join(toks[1:])[:60]!r}"
                              " (only distinct rx ry rz are supported)", ln)
        bone["dof"] = dof
    else:
        raise ReaderError(p, f"unknown keyword {toks[0][:40]!r} in a bone block", ln)


def _units(p: Path, sk: AsfSkeleton, toks: list[str], ln: int) -> None:
    for k in range(0, len(toks) - 1, 2):
        name, val = toks[k].lower(), toks[k + 1]
        if name == "angle":
            if val.lower() not in ("deg", "rad"):
                raise ReaderError(p, f"angle unit must be deg or rad, got {val[:20]!r}", ln)
            sk.angle_unit = val.lower()
        elif name == "length":
            v = _floats(p, [val], 1, "length unit", ln)[0]
            if not v > 0:
                raise ReaderError(p, f"length unit must be positive, got {val[:20]!r}", ln)
            sk.length_unit = float(v)
        elif name == "mass":
            _floats(p, [val], 1, "mass unit", ln)
        else:
            raise ReaderError(p, f"unknown unit {toks[k][:40]!r} (expected mass, length, angle)", ln)
    if len(toks) % 2:
        raise ReaderError(p, f"unit {toks[-1][:40]!r} has no value", ln)


def _make_bone(p: Path, d: dict) -> AsfBone:
    for need in ("name", "direction", "length", "axis"):
        if need not in d:
            raise ReaderError(p, f"bone block has no {need!r}", d["line"])
    ax, order = d["axis"]
    return AsfBone(d["name"], d["direction"], float(d["length"]), ax, order, d.get("dof", ()), line=d["line"])


def _acclaim_rotation(angles: np.ndarray, order: str) -> np.ndarray:
    """Rotations applied in the listed order ("XYZ": x first) -> Rz @ Ry @ Rx for column vectors."""
    return euler_matrix(angles[..., ::-1], order[::-1].lower())


# --- AMC ------------------------------------------------------------------------------------------

def _amc_layout(sk: AsfSkeleton) -> dict[str, int]:
    """Number of AMC values per bone that has any (root first)."""
    out = {"root": len(sk.root_order)}
    out.update({b.name: len(b.dof) for b in sk.bones.values() if b.dof})
    return out


def _parse_amc(p: Path, sk: AsfSkeleton) -> tuple[dict[str, np.ndarray], bool | None, int]:
    """AMC values: bone -> (T, n) array, the header's radians flag (None: not given), first frame."""
    raw = _read_text(p)
    nvals = _amc_layout(sk)
    radians: bool | None = None
    i = 0
    while i < len(raw):
        s = raw[i].split("#", 1)[0].strip()
        if s and not s.startswith(":"):
            break
        flag = s.split()[0].upper() if s else ""
        if flag == ":RADIANS":
            radians = True
        elif flag == ":DEGREES":
            radians = False
        i += 1
    if i >= len(raw):
        raise ReaderError(p, "no frames (expected a frame number after the header)", len(raw))
    t0 = raw[i].split("#", 1)[0].split()
    if len(t0) != 1 or not _INT.fullmatch(t0[0]) or len(t0[0]) > 9:
        raise ReaderError(p, f"expected a frame number, got {' '.join(t0)[:60]!r}", i + 1)
    first = int(t0[0])
    body_text = "\n".join(raw[i:])
    fast = None if "#" in body_text else _amc_fast(raw, i, body_text, nvals, first)
    if fast is not None:
        return fast, radians, first
    return _amc_slow(p, _token_lines(raw, i), nvals, first), radians, first


def _amc_fast(raw: list[str], start: int, body_text: str, nvals: dict[str, int], first: int
              ) -> dict[str, np.ndarray] | None:
    """Vectorised parse when every frame repeats the first frame's bone layout; None otherwise."""
    layout = []
    for ln in raw[start + 1:]:
        toks = ln.split()
        if not toks:
            continue
        if len(toks) == 1 and _INT.fullmatch(toks[0]):
            break
        if toks[0] not in nvals or len(toks) - 1 != nvals[toks[0]] or toks[0] in layout:
            return None
        layout.append(toks[0])
    if set(layout) != set(nvals):
        return None
    toks = body_text.split()
    if not toks or max(map(len, toks)) > 64:  # keep the string grid small; odd input takes the slow path
        return None
    k = 1 + sum(1 + nvals[b] for b in layout)
    if len(toks) % k:
        return None
    t = len(toks) // k
    grid = np.array(toks).reshape(t, k)
    name_cols, cols, c = [], {}, 1
    for b in layout:
        name_cols.append(c)
        cols[b] = slice(c + 1, c + 1 + nvals[b])
        c += 1 + nvals[b]
    if not (grid[:, name_cols] == np.array(layout)).all():
        return None
    try:
        frames = grid[:, 0].astype(np.float64)
        vals = {b: grid[:, s].astype(np.float64) for b, s in cols.items()}
    except ValueError:
        return None
    if not np.array_equal(frames, first + np.arange(t)):
        return None
    if not all(np.isfinite(v).all() for v in vals.values()):
        return None
    return vals


def _amc_slow(p: Path, body: list[tuple[int, list[str]]], nvals: dict[str, int], first: int
              ) -> dict[str, np.ndarray]:
    """Line-by-line parse (any bone order per frame) that names the offending line on errors."""
    frames: list[dict[str, np.ndarray]] = []
    frame_line = 0

    def close() -> None:
        missing = [b for b in nvals if b not in frames[-1]]
        if missing:
            raise ReaderError(p, f"frame {first + len(frames) - 1}: no values for bone(s) {missing[:6]}",
                              frame_line)

    for ln, toks in body:
        if len(toks) == 1 and _INT.fullmatch(toks[0]):
            if frames:
                close()
            want = first + len(frames)
            if int(toks[0]) != want:
                raise ReaderError(p, f"expected frame number {want}, got {toks[0][:20]}", ln)
            frames.append({})
            frame_line = ln
            continue
        name = toks[0]
        if name not in nvals:
            raise ReaderError(p, f"unknown bone {name[:40]!r} (or a bone without dof) in frame"
                              f" {first + len(frames) - 1}", ln)
        if name in frames[-1]:
            raise ReaderError(p, f"bone {name!r} given twice in frame {first + len(frames) - 1}", ln)
        if len(toks) - 1 != nvals[name]:
            raise ReaderError(p, f"bone {name!r} needs {nvals[name]} values (its ASF dof), got"
                              f" {len(toks) - 1}", ln)
        frames[-1][name] = _floats(p, toks[1:], nvals[name], f"values of bone {name!r}", ln)
    close()
    return {b: np.stack([f[b] for f in frames]).reshape(len(frames), n) for b, n in nvals.items()}


def asf_positions(sk: AsfSkeleton, values: dict[str, np.ndarray], radians: bool = False
                  ) -> tuple[list[str], np.ndarray]:
    """Forward kinematics -> (names, (T, 1 + bones, 3)): the root position and each bone's START."""
    names = sk.order()
    t = len(values["root"])
    to_rad = 1.0 if radians else np.pi / 180
    local = np.empty((t, len(names), 3, 3))
    offsets = np.zeros((len(names), 3))
    trans = np.zeros((t, len(names), 3))
    root = values["root"]
    trans[:, 0] = sk.root_position
    rot_idx = [i for i, d in enumerate(sk.root_order) if d[0] == "r"]
    for i, d in enumerate(sk.root_order):
        if d[0] == "t":
            trans[:, 0, "xyz".index(d[1])] = root[:, i]
    c = _acclaim_rotation(sk.root_orientation, sk.root_axis)
    m = (_acclaim_rotation(root[:, rot_idx] * to_rad, "".join(sk.root_order[i][1] for i in rot_idx))
         if rot_idx else np.eye(3))
    local[:, 0] = c @ m @ c.T
    index = {n: k for k, n in enumerate(names)}
    parents = [-1] + [index[sk.bones[n].parent] for n in names[1:]]
    for k, n in enumerate(names[1:], start=1):
        b = sk.bones[n]
        if b.parent != "root":
            offsets[k] = sk.bones[b.parent].vector
        c = _acclaim_rotation(b.axis, b.axis_order)
        if b.dof:
            m = _acclaim_rotation(values[n] * to_rad, "".join(d[1] for d in b.dof))
            local[:, k] = c @ m @ c.T
        else:
            local[:, k] = np.eye(3)
    return names, forward_kinematics(parents, offsets, local, trans)


def _resolve(p: Path, sk: AsfSkeleton, format: str | FormatSpec | None) -> tuple[FormatSpec, list[str]]:
    """The output format and the ASF bone (or "root") of each of its joints."""
    try:
        spec = get_format("cmu31" if format is None else format)
    except FormatSpecError as e:
        raise ReaderError(p, f"cannot use format {format!r}: {e}") from None
    mapping = spec.extra.get("asf_names") or {}
    have = {"root", *sk.bones}
    bones, missing = [], []
    for j in spec.joints:
        names = (mapping[j],) if j in mapping and j not in spec.source_names else spec.names_in_file(j)
        found = next((n for n in names if n in have), None)
        if found is None:
            missing.append(f"{j}" + (f" (as {'/'.join(names)})" if names != (j,) else ""))
        bones.append(found or "")
    if missing:
        raise ReaderError(p, f"skeleton {sk.source} lacks bone(s) for joint(s) {', '.join(missing[:8])} of format"
                          f" {spec.name!r} (its bones: {', '.join(sorted(sk.bones)[:40])}); pass format= a spec"
                          " that names them in its joints or source_names (--format)")
    if spec.dims != 3:
        raise ReaderError(p, f"format {spec.name!r} is {spec.dims}D; ASF/AMC gives 3D positions")
    return spec, bones


def read_amc(path: str | Path, skeleton: AsfSkeleton | str | Path, format: str | FormatSpec | None = None,
             scale: float = 1.0, fps: float | None = 120.0) -> SkeletonSequence:
    """Read an AMC motion for an ASF skeleton -> (1, T, J, 3) bone start positions.

    format: the joint order; default cmu31 (joints mapped to bones by its extra.asf_names); a custom
    spec names ASF bones directly or through its own extra.asf_names ("root" is the root).
    scale: multiplies positions (CMU: CMU_UNIT_TO_METRES for metres). fps: AMC files do not store
    it; CMU captures at 120 Hz.
    """
    p = Path(path)
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    sk = skeleton if isinstance(skeleton, AsfSkeleton) else read_asf(skeleton)
    spec, bones = _resolve(p, sk, format)
    values, radians, first = _parse_amc(p, sk)
    if radians is None:
        radians = sk.angle_unit == "rad"
    with np.errstate(all="ignore"):  # absurd lengths/values overflow to inf: caught just below
        names, pos = asf_positions(sk, values, radians)
        index = {n: k for k, n in enumerate(names)}
        joints = (pos[:, [index[b] for b in bones]] * scale).astype(np.float32)[None]
    if not np.isfinite(joints).all():
        k = int(np.argwhere(~np.isfinite(joints))[0][1])
        raise ReaderError(p, f"frame {first + k}: joint positions overflow (values too large)")
    base = f"ASF length units (1 unit = 1/{sk.length_unit:g} inch)" if sk.length_unit != 1 else "ASF units"
    units = base if scale == 1.0 else ("m" if scale == 0.0254 / sk.length_unit else f"({base}) x {scale:g}")
    meta: dict = {"source": str(p), "asf": sk.source, "units": units, "scale": float(scale),
                  "length_unit": sk.length_unit, "first_frame": first}
    m = CMU_NAME.fullmatch(p.stem)
    if m:
        meta["subject"], meta["trial"] = int(m.group(1)), int(m.group(2))
    return SkeletonSequence(joints, format=spec.name, fps=fps, meta=meta)


def read_asf_amc(asf_path: str | Path, amc_path: str | Path, format: str | FormatSpec | None = None,
                 scale: float = 1.0, fps: float | None = 120.0) -> SkeletonSequence:
    """Read an ASF skeleton and an AMC motion -> (1, T, J, 3); see :func:`read_amc`."""
    return read_amc(amc_path, read_asf(asf_path), format=format, scale=scale, fps=fps)


def find_asf(amc_path: str | Path, asf: str | Path | None = None) -> Path:
    """The ASF skeleton of an AMC file.

    ``asf`` a file: that file. Otherwise, in ``asf`` (a folder) or the AMC's folder: the ``.asf`` whose
    name is the longest prefix of the AMC's name ending at an underscore or the end ("PREFIX_SUBJECT.asf"
    for "PREFIX_SUBJECT_motion_001.amc", "01.asf" for "01_01.amc"), else the folder's only ``.asf``.
    """
    p = Path(amc_path)
    if asf is not None and Path(asf).is_file():
        return Path(asf)
    folder = Path(asf) if asf is not None else p.parent
    if not folder.is_dir():
        raise ReaderError(p, f"--asf {asf}: no such file or folder")
    cands = sorted(c for c in folder.iterdir() if c.suffix.lower() == ".asf" and c.is_file())
    stem = p.stem.lower()
    prefixes = [c for c in cands if stem == c.stem.lower() or stem.startswith(c.stem.lower() + "_")]
    if prefixes:
        return max(prefixes, key=lambda c: len(c.stem))
    if len(cands) == 1:
        return cands[0]
    found = f"{len(cands)} .asf files ({', '.join(c.name for c in cands[:5])})" if cands else "no .asf file"
    raise ReaderError(p, f"cannot tell the ASF skeleton of this AMC file: {found} in {folder}, none named like a"
                      f" prefix of {p.name!r} (e.g. {p.stem.split('_', 1)[0]}.asf); pass --asf FILE")


@register_reader("asf-amc", lambda p: p.suffix.lower() == ".amc")
def read_amc_file(path: str | Path, format: str | FormatSpec | None = None,
                  asf: str | Path | None = None) -> SkeletonSequence:
    """Read an AMC file with its ASF skeleton (``asf``, or found by :func:`find_asf`) -> ``format``
    (default cmu31; a custom spec maps its joints to ASF bones by name or ``source_names``)."""
    return read_amc(path, read_asf(find_asf(path, asf)), format=format)
