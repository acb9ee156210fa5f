"""Reader for the XCCDF results inside an ARF report.

An ARF written by ``oscap xccdf eval --results-arf`` carries a full copy of
the scanned data stream *before* the XCCDF ``TestResult``, and oscap 1.3.7
puts the OVAL results after it: several MB is normal, tens of MB happen
(a 20,000-rule scan writes 60 to 80 MB).  Only two parts of it matter: the
``TestResult`` (rule results, profile, score) and the rule titles, which
come from the ``Benchmark`` copy.

So the file is first searched as bytes (memory-mapped, 1 MB at a time,
pages dropped behind the cursor): where is the first XCCDF 1.2
``TestResult``, and where are the XCCDF 1.2 ``Benchmark`` copies before it.
Only those two kinds of element are parsed as XML; the OVAL definitions,
OVAL results and system characteristics are never parsed at all.  Parsing
a region on its own needs the namespace bindings its ancestors declare:
a prefix that every declaration before the region binds to one and the same
URI is that URI.  Whenever the byte search cannot be sure of that, or of
anything else (a comment, CDATA section, processing instruction or DOCTYPE
before the end of the TestResult, a prefix bound to different URIs, a
region that does not parse), the whole file is read with ``iterparse``
instead, exactly as before, and that reader also produces every error
message.  Either way the answer is the same.

Each region is read the quickest way that is sure.  oscap (and SSG) write
every Rule with its title first and every rule-result with its result
first: one regular expression each then finds them, and counting the Rule
and rule-result start tags proves none was skipped.  Otherwise the Rule and
title tags are walked one by one, and failing that the region goes through
the XML parser inside a wrapper element that declares its ancestors'
namespaces.  bench/arfcheck.py compares the answers with the whole-file
reader's on real and deliberately awkward ARFs.

The parse is pure and blocking: the daemon runs it in a worker thread.  So
that the reactor thread keeps answering meanwhile, no step holds the GIL for
long (one byte search or pattern over at most 1 MB, one 128 KB parser feed),
and after each step the GIL is offered to whoever waits for it.
"""

import functools
import mmap
import os
import re
import time
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Set, Tuple, TypeVar
from xml.etree.ElementTree import Element, ParseError, XMLPullParser, iterparse

import attr

T = TypeVar("T")
XCCDF_NS = "http://checklists.nist.gov/xccdf/1.2"
_RULE = "{%s}Rule" % XCCDF_NS
_TITLE = "{%s}title" % XCCDF_NS
_TEST_RESULT = "{%s}TestResult" % XCCDF_NS
_RULE_RESULT = "{%s}rule-result" % XCCDF_NS
_RESULT = "{%s}result" % XCCDF_NS
_SCORE = "{%s}score" % XCCDF_NS
_PROFILE = "{%s}profile" % XCCDF_NS
DEFAULT_SCORING = "urn:xccdf:scoring:default"


class ArfError(Exception):
    """The ARF is missing, is not XML, or holds no XCCDF TestResult."""


@attr.s(frozen=True, slots=True)
class RuleResult:
    id: str = attr.ib()
    result: str = attr.ib()
    severity: str = attr.ib(default="unknown")
    title: Optional[str] = attr.ib(default=None)

    def to_dict(self) -> Dict[str, Optional[str]]:
        return {"id": self.id, "title": self.title, "severity": self.severity, "result": self.result}


@attr.s(frozen=True, slots=True)
class TestResult:
    """The parts of an XCCDF TestResult that a scan result is built from."""

    __test__ = False  # not a pytest test class, whatever its name says

    id: str = attr.ib()
    profile: Optional[str] = attr.ib()
    rules: Tuple[RuleResult, ...] = attr.ib()
    native_score: Optional[float] = attr.ib()
    native_score_max: Optional[float] = attr.ib()


def parse_arf(path: str) -> TestResult:
    """Read the (first) XCCDF TestResult of the ARF at ``path``."""
    try:
        with open(path, "rb") as f:
            try:
                return _RegionReader(f.fileno()).read()
            except _Fallback:
                pass
        return _parse(path, {})
    except ParseError as e:
        raise ArfError("%s is not well-formed XML: %s" % (path, e)) from e
    except OSError as e:
        raise ArfError("cannot read %s: %s" % (path, e.strerror or e)) from e


# The whole file, streamed: the reference reader, and the fallback. -----------

def _parse(path: str, titles: Dict[str, str]) -> TestResult:
    rule_id: Optional[str] = None
    in_test_result = False
    test_result_id = ""
    collector = _TestResultCollector()
    for event, elem in iterparse(path, events=("start", "end")):
        tag = elem.tag
        if event == "start":
            if tag == _RULE:
                rule_id = elem.get("id")
            elif tag == _TEST_RESULT:
                in_test_result = True
                test_result_id = elem.get("id", "")
            continue
        if tag == _TITLE:
            if rule_id is not None and rule_id not in titles:
                titles[rule_id] = (elem.text or "").strip()
        elif tag == _RULE:
            rule_id = None
            elem.clear()
        elif not in_test_result:
            if len(elem) > 64:
                # Large subtrees outside the TestResult (OVAL results, the
                # content copy) are never needed again: drop them early.
                elem.clear()
        elif tag == _TEST_RESULT:
            return collector.result(test_result_id, titles)
        else:
            collector.end(tag, elem)
    raise ArfError("%s holds no XCCDF 1.2 TestResult" % (path,))


class _TestResultCollector:
    """What the end events inside a TestResult contribute; shared by both readers."""

    def __init__(self) -> None:
        self.profile: Optional[str] = None
        self.score: Optional[float] = None
        self.score_max: Optional[float] = None
        self.raw: List[Tuple[str, str, str]] = []

    def end(self, tag: str, elem: Element) -> None:
        if tag == _RULE_RESULT:
            result = elem.findtext(_RESULT)
            if result is not None:
                self.raw.append((elem.get("idref", ""), result.strip(), elem.get("severity", "unknown")))
            elem.clear()
        elif tag == _PROFILE:
            self.profile = elem.get("idref")
        elif tag == _SCORE:
            if elem.get("system", DEFAULT_SCORING) == DEFAULT_SCORING:
                self.score = _float_or_none(elem.text)
                self.score_max = _float_or_none(elem.get("maximum"))

    def result(self, test_result_id: str, titles: Dict[str, str]) -> TestResult:
        rules: List[RuleResult] = []
        for start in range(0, len(self.raw), _BATCH):
            rules.extend(RuleResult(i, r, s, titles.get(i)) for i, r, s in self.raw[start:start + _BATCH])
            _offer_gil()
        return TestResult(test_result_id, self.profile, tuple(rules), self.score, self.score_max)


def _float_or_none(text: Optional[str]) -> Optional[float]:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


# Only the regions that matter. -----------------------------------------------

class _Fallback(Exception):
    """The byte search cannot be sure: try the next, more careful way."""


#: Bytes searched or matched per step: one C call on them holds the GIL for a
#: millisecond or two, and after each step the GIL is offered to other threads.
_WINDOW = 1 << 20
#: Bytes handed to the XML parser per feed.
_FEED = 128 << 10
#: RuleResults built between two offers of the GIL.
_BATCH = 2000


def _offer_gil() -> None:
    """Let a thread that waits for the GIL (the daemon's reactor) have it now.

    CPython forces a hand-over of the GIL only every 5 ms
    (sys.getswitchinterval()), and never in the middle of a C call; a
    request needs the GIL back after each of its system calls, so every step
    of the reader would delay every request the reactor is answering by up
    to that much, several times over.  Released and asleep for 0.1 ms (a
    sleep of 0 gives a waiter no time to wake up and take it), the GIL goes
    to whoever waits for it.  About a hundred such steps in a 60 MB file
    cost ~15 ms.
    """
    time.sleep(0.0001)


_PAGE = mmap.PAGESIZE
_DONTNEED = getattr(mmap, "MADV_DONTNEED", None)

_NAME_BYTES = (frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
               | frozenset(range(128, 256)))
_SPACE = b" \t\r\n"
_ATTRS = rb'((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|\'[^\']*\'))*)'
_START_TAG = re.compile(rb'<([^\s/>=\'"]+)' + _ATTRS + rb'\s*(/?)>')
_ATTRIBUTE = re.compile(rb'([^\s=/>]+)\s*=\s*(?:"([^"]*)"|\'([^\']*)\')')
_FIRST_ATTRIBUTE = re.compile(rb'\s+([^\s=/>]+)\s*=\s*(?:"([^"]*)"|\'([^\']*)\')')
_DECLARATION = re.compile(rb'<\?xml\s[^>]*?\?>')
_ENCODING = re.compile(rb'encoding\s*=\s*["\']([A-Za-z0-9._-]+)["\']')
_END_TAG = re.compile(rb'</([^\s>]+)\s*>')
_TITLE_OR_RULE = re.compile(rb'<(/?)(?:([^\s/>:]+):)?(Rule|title)(?=[\s/>])')
_REFERENCE = re.compile(r"&(#x[0-9A-Fa-f]{1,8}|#[0-9]{1,10}|[A-Za-z]+);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_WRAPPER = "cemscan-region"
_UNSEEN = object()

#: What the byte search looks for.
_XMLNS, _BENCHMARK, _TESTRESULT, _MARKUP, _PI = b"xmlns", b"Benchmark", b"TestResult", b"<!", b"<?"


def _unescape(raw: bytes) -> str:
    """An attribute value as the XML parser gives it (no DTD entities).

    Invalid UTF-8 raises UnicodeDecodeError, a ValueError: the whole-file reader reports it.
    """
    text = raw.decode("utf-8")
    if "\n" in text or "\r" in text or "\t" in text:
        text = text.replace("\r\n", " ").replace("\r", " ").replace("\n", " ").replace("\t", " ")
    return _references(text) if "&" in text else text


def _text(raw: bytes) -> str:
    """Character data as the XML parser gives it (no DTD entities)."""
    text = raw.decode("utf-8")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _references(text) if "&" in text else text


def _reference(m: "re.Match[str]") -> str:
    ref = m.group(1)
    if ref in _ENTITIES:
        return _ENTITIES[ref]
    code = int(ref[2:], 16) if ref[1] == "x" else int(ref[1:])
    if not (code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD
            or 0x10000 <= code <= 0x10FFFF):
        raise _Fallback()  # not a character XML allows: the parser's error to report
    return chr(code)


def _references(text: str) -> str:
    """Replace character and predefined entity references; anything else is for the parser."""
    replaced, count = _REFERENCE.subn(_reference, text)
    if count != text.count("&"):
        raise _Fallback()  # an entity only a DTD could define, or a stray '&'
    return replaced


def _attributes(raw: bytes) -> Dict[bytes, bytes]:
    """Raw attribute values by name, from the attribute part of a start tag."""
    return {name: v1 if v1 or not v2 else v2 for name, v1, v2 in _ATTRIBUTE.findall(raw)}


def _attribute(raw: bytes, name: bytes, default: Optional[str] = None) -> Optional[str]:
    value = _attributes(raw).get(name)
    return default if value is None else _unescape(value)


def _id(raw: bytes, name: bytes) -> Optional[str]:
    """Attribute ``name`` (id, idref): first in every start tag oscap and SSG write, so tried first."""
    m = _FIRST_ATTRIBUTE.match(raw)
    if m is not None and m.group(1) == name:
        return _unescape(m.group(2) if m.group(3) is None else m.group(3))
    return _attribute(raw, name)


def _namespace(prefix: bytes, own: Dict[bytes, str], bindings: Dict[bytes, Set[str]]) -> Optional[str]:
    """What ``prefix`` means on a tag declaring ``own``, after ``bindings`` (None: unbound)."""
    if prefix in own:
        return own[prefix]
    uris = bindings.get(prefix)
    if not uris:
        return None if prefix else ""
    if len(uris) > 1:
        raise _Fallback()  # which one is in scope here cannot be told from bytes
    return next(iter(uris))


@attr.s
class _Region:
    """A Benchmark or TestResult element, as a byte range, with what its ancestors declare."""

    start: int = attr.ib()
    end: int = attr.ib()
    #: Where its start tag ends; that tag's raw attributes and its own namespace declarations.
    tag_end: int = attr.ib()
    attributes: bytes = attr.ib()
    own: Dict[bytes, str] = attr.ib()
    #: Every namespace binding seen before the region: prefix -> URIs (more than one: ambiguous).
    before: Dict[bytes, Set[str]] = attr.ib()
    #: Declarations for a wrapper element that stands in for the ancestors.
    wrapper: bytes = attr.ib()

    @property
    def default_unknown(self) -> bool:
        """The default namespace is inherited, and from which declaration cannot be told."""
        return b"" not in self.own and len(self.before.get(b"", ())) > 1

    def xccdf_prefix(self) -> bytes:
        """The one prefix that means XCCDF 1.2 all through the region (b"": the default namespace)."""
        prefixes = set()
        for prefix in set(self.before) | set(self.own):
            uris = {self.own[prefix]} if prefix in self.own else self.before[prefix]
            if XCCDF_NS in uris:
                if len(uris) > 1:
                    raise _Fallback()
                prefixes.add(prefix)
        if len(prefixes) != 1:
            raise _Fallback()
        return prefixes.pop()


class _RegionReader:
    """Finds the regions by byte search, then reads each in the quickest way that is sure."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        #: Every namespace declaration seen so far: prefix -> decoded URIs, and one raw attribute each.
        self.bindings: Dict[bytes, Set[str]] = {}
        self.raw_bindings: Dict[bytes, bytes] = {}
        #: Where each ``xmlns`` attribute was seen: scoping inside a region cannot be told from bytes.
        self.declared_at: List[int] = []
        self.benchmarks: List[_Region] = []
        self.test_result: Optional[_Region] = None

    def read(self) -> TestResult:
        if os.fstat(self.fd).st_size == 0:
            raise _Fallback()
        with mmap.mmap(self.fd, 0, access=mmap.ACCESS_READ) as mm:
            try:
                return self._read(mm)
            except (ParseError, ValueError, OverflowError):
                # A region that does not parse on its own: the whole-file reader decides.
                raise _Fallback() from None

    def _read(self, mm: mmap.mmap) -> TestResult:
        self._scan(mm, self._prolog(mm))
        if self.test_result is None:
            raise _Fallback()
        titles: Dict[str, str] = {}
        for region in self.benchmarks:
            found = _first_sure(mm, region, (self._match_titles, self._search_titles, self._parse_titles))
            for rule_id, title in found.items():
                titles.setdefault(rule_id, title)  # the first Rule of an id wins, as in a full read
        collector = _first_sure(mm, self.test_result, (self._match_test_result, self._parse_test_result))
        return collector.result(_attribute(self.test_result.attributes, b"id", "") or "", titles)

    # The byte search ----------------------------------------------------------

    def _prolog(self, mm: mmap.mmap) -> int:
        """Where the body starts; only UTF-8 (or ASCII) files go on."""
        head = mm[:4096]
        skip = 3 if head.startswith(b"\xef\xbb\xbf") else 0
        if head[skip:skip + 1] != b"<":
            raise _Fallback()  # UTF-16, leading space, junk: not worth guessing
        declaration = _DECLARATION.match(head, skip)
        if declaration is None:
            return skip
        encoding = _ENCODING.search(declaration.group(0))
        if encoding is not None and encoding.group(1).lower() not in (b"utf-8", b"utf8", b"us-ascii", b"ascii"):
            raise _Fallback()
        return declaration.end()

    def _scan(self, mm: mmap.mmap, pos: int) -> None:
        """One pass, a window at a time, up to the end of the first XCCDF 1.2 TestResult."""
        size = len(mm)
        literals: Tuple[bytes, ...] = (_XMLNS, _BENCHMARK, _TESTRESULT, _MARKUP, _PI)
        stop: Optional[int] = None
        while pos < (size if stop is None else stop):
            end = min(pos + _WINDOW, size if stop is None else stop)
            hits: List[Tuple[int, bytes]] = []
            for literal in literals:
                limit = min(end + len(literal) - 1, size)  # a hit may straddle the window's end
                i = mm.find(literal, pos, limit)
                while i != -1:
                    hits.append((i, literal))
                    i = mm.find(literal, i + 1, limit)
            hits.sort()
            for i, literal in hits:
                if stop is not None and i >= stop:
                    break
                if literal is _MARKUP or literal is _PI:
                    # A comment, CDATA section, DOCTYPE or processing instruction
                    # could hide a tag from a byte search, or fake one.
                    raise _Fallback()
                if literal is _XMLNS:
                    self._declaration(mm, i)
                elif stop is None:
                    stop = self._candidate(mm, i, literal)
                    if stop is not None:
                        literals = (_MARKUP, _PI)  # up to the TestResult's end: only the safety checks
            self._release(mm, pos, end)
            _offer_gil()
            pos = end

    def _declaration(self, mm: mmap.mmap, i: int) -> None:
        """An ``xmlns`` or ``xmlns:p`` attribute at ``i`` (anything else is ignored)."""
        if i == 0 or mm[i - 1] not in _SPACE:
            return
        m = _ATTRIBUTE.match(mm, i, min(i + 8192, len(mm)))
        if m is None:
            return
        name = m.group(1)
        if name == b"xmlns":
            prefix = b""
        elif name.startswith(b"xmlns:"):
            prefix = name[6:]
        else:
            return
        raw = m.group(2) if m.group(2) is not None else m.group(3)
        self.declared_at.append(i)
        self.bindings.setdefault(prefix, set()).add(_unescape(raw))
        self.raw_bindings.setdefault(prefix, m.group(0))

    def _candidate(self, mm: mmap.mmap, i: int, literal: bytes) -> Optional[int]:
        """A Benchmark or TestResult at ``i``: note an XCCDF 1.2 one; a TestResult ends the scan."""
        for region in self.benchmarks:
            if region.start <= i < region.end:
                if literal is _TESTRESULT:
                    raise _Fallback()  # a TestResult inside a Benchmark: not for a byte search
                return None
        tag = self._start_tag(mm, i, literal)
        if tag is None:
            return None
        qname = tag.group(1)
        own: Dict[bytes, str] = {}
        for name, raw in _attributes(tag.group(2)).items():
            if name == b"xmlns" or name.startswith(b"xmlns:"):
                own[name[6:]] = _unescape(raw)
        prefix = qname[:-len(literal) - 1] if len(qname) > len(literal) else b""
        if _namespace(prefix, own, self.bindings) != XCCDF_NS:
            return None
        end = tag.end() if tag.group(3) else self._end_tag(mm, qname, tag.end())
        wrapper = b" ".join(self.raw_bindings[p] for p, uris in sorted(self.bindings.items())
                            if len(uris) == 1 and p not in own and p != b"xml")
        region = _Region(tag.start(), end, tag.end(), tag.group(2), own,
                         {p: set(uris) for p, uris in self.bindings.items()}, wrapper)
        if literal is _BENCHMARK:
            self.benchmarks.append(region)
            return None
        self.test_result = region
        return end

    @staticmethod
    def _start_tag(mm: mmap.mmap, i: int, literal: bytes) -> "Optional[re.Match[bytes]]":
        """The start tag whose local name is the ``literal`` at ``i``, if that is what it is."""
        if mm[i + len(literal):i + len(literal) + 1] not in (b" ", b"\t", b"\r", b"\n", b">", b"/"):
            return None
        j = i - 1
        if j >= 0 and mm[j] == 0x3A:  # ':' after a prefix
            j -= 1
            while j >= 0 and mm[j] in _NAME_BYTES:
                j -= 1
            if j == i - 2:
                return None
        if j < 0 or mm[j] != 0x3C:  # not '<': an end tag, text, an attribute value
            return None
        m = _START_TAG.match(mm, j, min(j + 65536, len(mm)))
        if m is None:
            raise _Fallback()  # a start tag this cannot read
        return m

    @staticmethod
    def _end_tag(mm: mmap.mmap, qname: bytes, after: int) -> int:
        """Just past ``</qname>``: neither element nests, so the first is the one."""
        needle = b"</" + qname
        i = mm.find(needle, after)
        while i != -1:
            j = i + len(needle)
            while j < len(mm) and mm[j] in _SPACE:
                j += 1
            if mm[j:j + 1] == b">":
                return j + 1
            i = mm.find(needle, i + 1)
        raise _Fallback()  # truncated: the full reader says so

    @staticmethod
    def _release(mm: mmap.mmap, start: int, end: int) -> None:
        """Give back pages already read: a 60 MB file must not become 60 MB of RSS."""
        if _DONTNEED is None:
            return
        start -= start % _PAGE
        end -= end % _PAGE
        if end > start:
            try:
                mm.madvise(_DONTNEED, start, end - start)
            except (OSError, ValueError):
                pass

    def _inner_declarations(self, region: _Region) -> bool:
        return any(region.tag_end <= i < region.end for i in self.declared_at)

    def _finditer(self, pattern: "re.Pattern[bytes]", mm: mmap.mmap, region: _Region) -> Iterator["re.Match[bytes]"]:
        """``pattern`` over the region, giving back pages behind the cursor."""
        released = region.start
        for m in pattern.finditer(mm, region.start, region.end):
            if m.start() - released > _WINDOW:
                self._release(mm, released, m.start())
                released = m.start()
                _offer_gil()
            yield m
        self._release(mm, released, region.end)

    def _windows(self, mm: mmap.mmap, region: _Region, needle: bytes) -> Iterator[Tuple[int, int]]:
        """The region in slices of about _WINDOW bytes, each cut where ``needle`` starts
        (so that no match of a pattern that starts with it is cut); pages given back behind."""
        a = region.start
        while a < region.end:
            b = min(a + _WINDOW, region.end)
            if b < region.end:
                b = mm.find(needle, b, region.end)
                if b == -1:
                    b = region.end
            yield a, b
            self._release(mm, a, b)
            _offer_gil()
            a = b

    # Titles: three ways, quickest first ------------------------------------------

    def _match_titles(self, mm: mmap.mmap, region: _Region) -> Dict[str, str]:
        """Every Rule that starts with its title (oscap's and SSG's layout), by one pattern.

        Sure when there are as many Rule start tags as matches: then no Rule
        was skipped, and each title is its Rule's first child.
        """
        if self._inner_declarations(region):
            raise _Fallback()
        prefix = region.xccdf_prefix()
        p = _patterns(prefix)
        titles: Dict[str, str] = {}
        matched = rules = 0
        for a, b in self._windows(mm, region, _qualified(prefix, b"<", b"Rule")):
            found = p.rule_and_title.findall(mm, a, b)
            matched += len(found)
            rules += len(p.rule.findall(mm, a, b))
            for attributes, _, text in found:
                rule_id = _id(attributes, b"id")
                if rule_id is not None and rule_id not in titles:
                    titles[rule_id] = _text(text).strip()
        if matched != rules:
            raise _Fallback()
        return titles

    def _search_titles(self, mm: mmap.mmap, region: _Region) -> Dict[str, str]:
        """Rule and title tags one by one, as bytes: every ``<`` starts a tag (the scan
        found no comment, CDATA or processing instruction) and every prefix means what
        it means at the region's start (no declaration inside)."""
        if self._inner_declarations(region):
            raise _Fallback()
        titles: Dict[str, str] = {}
        namespaces: Dict[bytes, Optional[str]] = {}
        rule_id: Optional[str] = None
        for m in self._finditer(_TITLE_OR_RULE, mm, region):
            prefix = m.group(2) or b""
            namespace = namespaces.get(prefix, _UNSEEN)
            if namespace is _UNSEEN:
                namespace = namespaces[prefix] = _namespace(prefix, region.own, region.before)
            if namespace != XCCDF_NS:
                continue
            if m.group(1):  # an end tag
                if m.group(3) == b"Rule":
                    rule_id = None
                continue
            at = m.start()
            tag = _START_TAG.match(mm, at, min(at + 65536, region.end))
            if tag is None:
                raise _Fallback()
            if m.group(3) == b"Rule":
                rule_id = None if tag.group(3) else _attribute(tag.group(2), b"id")
            elif rule_id is not None and rule_id not in titles:
                if tag.group(3):
                    titles[rule_id] = ""
                    continue
                text_end = mm.find(b"<", tag.end(), region.end)
                close = _END_TAG.match(mm, text_end, min(text_end + 1024, region.end)) if text_end > 0 else None
                if close is None or close.group(1) != tag.group(1):
                    raise _Fallback()  # markup inside the title
                titles[rule_id] = _text(mm[tag.end():text_end]).strip()
        return titles

    def _parse_titles(self, mm: mmap.mmap, region: _Region) -> Dict[str, str]:
        """The region through the XML parser, its ancestors' namespaces declared on a wrapper."""
        titles: Dict[str, str] = {}
        for elem in self._parsed(mm, region):
            tag = elem.tag
            if tag == _RULE:
                rule_id = elem.get("id")
                if rule_id is not None and rule_id not in titles:
                    title = next(elem.iter(_TITLE), None)
                    if title is not None:
                        titles[rule_id] = (title.text or "").strip()
                elem.clear()
            elif tag[:1] != "{" and region.default_unknown and tag != _WRAPPER:
                raise _Fallback()  # its default namespace came from an ancestor that cannot be told
            elif len(elem) > 64:
                elem.clear()  # a Profile's selects, a Group's cleared Rules: never needed again
        return titles

    # The TestResult: two ways ------------------------------------------------------

    def _match_test_result(self, mm: mmap.mmap, region: _Region) -> _TestResultCollector:
        """rule-results that start with their result (as oscap writes them), by one pattern;
        sure when every rule-result, profile and score start tag was matched."""
        if self._inner_declarations(region):
            raise _Fallback()
        prefix = region.xccdf_prefix()
        p = _patterns(prefix)
        collector = _TestResultCollector()
        raw = collector.raw
        rule_results = scores = profiles = 0
        for a, b in self._windows(mm, region, _qualified(prefix, b"<", b"rule-result")):
            rule_results += len(p.rule_result.findall(mm, a, b))
            for attributes, result in p.rule_result_and_result.findall(mm, a, b):
                values = _attributes(attributes)
                idref, severity = values.get(b"idref"), values.get(b"severity")
                raw.append(("" if idref is None else _unescape(idref), _text(result).strip(),
                            "unknown" if severity is None else _unescape(severity)))
            # profile and score are the TestResult's own children, before and after
            # the rule-results: the first and the last window hold them.
            for attributes in p.profile.findall(mm, a, b):
                collector.profile = _attribute(attributes, b"idref")
                profiles += 1
            profiles -= len(p.profile_start.findall(mm, a, b))
            for attributes, text in p.score_and_text.findall(mm, a, b):
                if (_attribute(attributes, b"system") or DEFAULT_SCORING) == DEFAULT_SCORING:
                    collector.score = _float_or_none(_text(text))
                    collector.score_max = _float_or_none(_attribute(attributes, b"maximum"))
                scores += 1
            scores -= len(p.score.findall(mm, a, b))
        if len(raw) != rule_results or scores or profiles:
            raise _Fallback()
        return collector

    def _parse_test_result(self, mm: mmap.mmap, region: _Region) -> _TestResultCollector:
        collector = _TestResultCollector()
        for elem in self._parsed(mm, region):
            tag = elem.tag
            if tag == _TEST_RESULT:
                return collector
            if tag[:1] != "{" and region.default_unknown:
                raise _Fallback()
            collector.end(tag, elem)
        raise _Fallback()

    def _parsed(self, mm: mmap.mmap, region: _Region) -> Iterator[Element]:
        """End events of the region's elements, parsed inside a wrapper that declares
        the namespaces its ancestors (seem to) declare."""
        parser = XMLPullParser(events=("end",))
        parser.feed(b"<%s %s>" % (_WRAPPER.encode("ascii"), region.wrapper))
        pos = region.start
        while pos < region.end:
            end = min(pos + _FEED, region.end)
            parser.feed(mm[pos:end])
            self._release(mm, pos, end)
            _offer_gil()
            pos = end
            for _, elem in parser.read_events():
                yield elem
        parser.feed(b"</%s>" % _WRAPPER.encode("ascii"))
        for _, elem in parser.read_events():
            yield elem
        parser.close()


def _first_sure(mm: mmap.mmap, region: _Region, ways: Sequence[Callable[[mmap.mmap, _Region], T]]) -> T:
    """The answer of the first way that is sure of it; the last way's doubt goes up."""
    for way in ways[:-1]:
        try:
            return way(mm, region)
        except _Fallback:
            pass
    return ways[-1](mm, region)


@attr.s(frozen=True)
class _Patterns:
    rule: "re.Pattern[bytes]" = attr.ib()
    rule_and_title: "re.Pattern[bytes]" = attr.ib()
    rule_result: "re.Pattern[bytes]" = attr.ib()
    rule_result_and_result: "re.Pattern[bytes]" = attr.ib()
    profile: "re.Pattern[bytes]" = attr.ib()
    profile_start: "re.Pattern[bytes]" = attr.ib()
    score: "re.Pattern[bytes]" = attr.ib()
    score_and_text: "re.Pattern[bytes]" = attr.ib()


def _qualified(prefix: bytes, before: bytes, name: bytes) -> bytes:
    return before + prefix + b":" + name if prefix else before + name


@functools.lru_cache(maxsize=8)
def _patterns(prefix: bytes) -> _Patterns:
    """The patterns for XCCDF elements written with ``prefix`` (b"": none)."""
    q = re.escape(prefix + b":") if prefix else b""

    def start(name: bytes) -> bytes:
        return b"<" + q + name + rb"(?=[\s/>])"

    def element(name: bytes) -> bytes:  # a start tag, character data, the end tag
        return b"<" + q + name + _ATTRS + rb"\s*>([^<]*)</" + q + name + rb"\s*>"

    return _Patterns(
        rule=re.compile(start(b"Rule")),
        rule_and_title=re.compile(b"<" + q + b"Rule" + _ATTRS + rb"\s*>\s*" + element(b"title")),
        rule_result=re.compile(start(b"rule-result")),
        rule_result_and_result=re.compile(b"<" + q + b"rule-result" + _ATTRS + rb"\s*>\s*<" + q
                                          + rb"result\s*>([^<]*)</" + q + rb"result\s*>"),
        profile=re.compile(b"<" + q + b"profile" + _ATTRS + rb"\s*/?>"),
        profile_start=re.compile(start(b"profile")),
        score=re.compile(start(b"score")),
        score_and_text=re.compile(element(b"score")),
    )
