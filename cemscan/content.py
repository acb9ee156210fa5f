"""SCAP content: which file to scan by default, its profiles, their size.

The daemon validates ``--profile`` (and each POSTed profile) against the
content's own profiles, and reports progress as "rules done / rules total";
both come from one streaming pass over the content's XCCDF Benchmark, which
is done once per content file.
"""

import os
from typing import Dict, FrozenSet, List, Mapping, Optional, Sequence, Tuple
from xml.etree.ElementTree import ParseError, iterparse

import attr

#: Where distributions install the SCAP Security Guide data streams.
SSG_DIRS = ("/usr/share/xml/scap/ssg/content", "/usr/share/scap-security-guide/content")
BUNDLED_CONTENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "content", "cemscan-ds.xml")
BUNDLED_PROFILE = "xccdf_io.cemscan_profile_baseline"
#: The SSG profile preferred when the host's own content is used.
SSG_PREFERRED_PROFILES = ("xccdf_org.ssgproject.content_profile_standard",)

_XCCDF_NAMESPACES = ("http://checklists.nist.gov/xccdf/1.2", "http://checklists.nist.gov/xccdf/1.1")


class ContentError(Exception):
    """The content file is missing, unreadable or holds no XCCDF benchmark."""


@attr.s(frozen=True)
class Profile:
    id: str = attr.ib()
    title: str = attr.ib()
    rule_count: int = attr.ib()


@attr.s(frozen=True)
class Content:
    """A content file and what the daemon needs to know of it."""

    path: str = attr.ib()
    profiles: Mapping[str, Profile] = attr.ib()

    def default_profile(self) -> Optional[str]:
        for candidate in SSG_PREFERRED_PROFILES + (BUNDLED_PROFILE,):
            if candidate in self.profiles:
                return candidate
        return next(iter(self.profiles), None)


def ssg_candidates(os_release: Mapping[str, str]) -> List[str]:
    """SSG file name stems for an ``/etc/os-release`` mapping, best first.

    SSG names its data streams after the product: ``debian11``,
    ``ubuntu2204``, ``rhel9``, ``fedora``...
    """
    ids = [os_release.get("ID", "")] + os_release.get("ID_LIKE", "").split()
    version = os_release.get("VERSION_ID", "")
    major = version.split(".")[0]
    stems = []
    for os_id in filter(None, ids):
        if os_id == "ubuntu":
            stems.append("ubuntu" + version.replace(".", ""))
        elif os_id in ("fedora", "opensuse", "sle"):
            stems.append(os_id)
        if major:
            stems.append(os_id + major)
    return stems


def read_os_release(path: str = "/etc/os-release") -> Dict[str, str]:
    values: Dict[str, str] = {}
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                key, sep, value = line.strip().partition("=")
                if sep:
                    values[key] = value.strip().strip('"').strip("'")
    except OSError:
        pass
    return values


def find_default_content(os_release: Mapping[str, str], ssg_dirs: Sequence[str] = SSG_DIRS) -> str:
    """The host's own SSG data stream if there is one, else the bundled benchmark."""
    for stem in ssg_candidates(os_release):
        for directory in ssg_dirs:
            path = os.path.join(directory, "ssg-%s-ds.xml" % stem)
            if os.path.isfile(path):
                return path
    return BUNDLED_CONTENT


def load_content(path: str) -> Content:
    """Read the profiles of the content at ``path`` (a data stream or XCCDF file)."""
    if not os.path.exists(path):
        raise ContentError("content file %s does not exist" % path)
    try:
        profiles = _read_profiles(path)
    except ParseError as e:
        raise ContentError("content file %s is not well-formed XML: %s" % (path, e)) from e
    except OSError as e:
        raise ContentError("cannot read content file %s: %s" % (path, e.strerror or e)) from e
    if not profiles:
        raise ContentError("content file %s holds no XCCDF benchmark with profiles" % path)
    return Content(path, profiles)


@attr.s
class _Item:
    """A Group or Rule on the way down the benchmark tree."""

    id: str = attr.ib()
    is_rule: bool = attr.ib()
    selected: bool = attr.ib()
    children: List["_Item"] = attr.ib(factory=list)


@attr.s
class _RawProfile:
    id: str = attr.ib()
    extends: Optional[str] = attr.ib()
    title: str = attr.ib(default="")
    selections: Dict[str, bool] = attr.ib(factory=dict)


def _read_profiles(path: str) -> Dict[str, Profile]:
    """One streaming pass: profile selections plus the Group/Rule tree."""
    root = _Item("", False, True)
    stack = [root]
    raw_profiles: List[_RawProfile] = []
    profile: Optional[_RawProfile] = None
    for event, elem in iterparse(path, events=("start", "end")):
        ns, _, local = elem.tag[1:].partition("}")
        if ns not in _XCCDF_NAMESPACES:
            if event == "end" and len(elem) > 64:
                elem.clear()  # OVAL, CPE and OCIL parts of a data stream
            continue
        if event == "start":
            if local in ("Group", "Rule"):
                item = _Item(elem.get("id", ""), local == "Rule", elem.get("selected", "true") == "true")
                stack[-1].children.append(item)
                stack.append(item)
            elif local == "Profile":
                profile = _RawProfile(elem.get("id", ""), elem.get("extends"))
                raw_profiles.append(profile)
            elif local == "select" and profile is not None:
                profile.selections[elem.get("idref", "")] = elem.get("selected") == "true"
            continue
        if local in ("Group", "Rule"):
            stack.pop()
            elem.clear()
        elif local == "title" and profile is not None and not profile.title:
            profile.title = (elem.text or "").strip()
        elif local == "Profile":
            profile = None
            elem.clear()
    selections = _resolve_extends({p.id: (p.extends, p.selections) for p in raw_profiles})
    return {p.id: Profile(p.id, p.title, len(_selected_rules(root, selections[p.id]))) for p in raw_profiles}


def _resolve_extends(raw: Mapping[str, Tuple[Optional[str], Dict[str, bool]]]) -> Dict[str, Dict[str, bool]]:
    """A profile's selections, with those of the profiles it extends underneath."""
    resolved: Dict[str, Dict[str, bool]] = {}

    def resolve(pid: str, seen: FrozenSet[str]) -> Dict[str, bool]:
        if pid in resolved:
            return resolved[pid]
        parent, own = raw[pid]
        merged = dict(resolve(parent, seen | {pid})) if parent in raw and parent not in seen else {}
        merged.update(own)
        resolved[pid] = merged
        return merged

    for pid in raw:
        resolve(pid, frozenset())
    return resolved


def _selected_rules(item: _Item, selections: Mapping[str, bool]) -> List[str]:
    """Rules a profile evaluates: selected themselves and in every enclosing Group."""
    found = []
    for child in item.children:
        if not selections.get(child.id, child.selected):
            continue
        if child.is_rule:
            found.append(child.id)
        else:
            found.extend(_selected_rules(child, selections))
    return found

