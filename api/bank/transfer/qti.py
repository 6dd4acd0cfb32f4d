"""Export to an IMS QTI 2.1 content package: a zip other assessment platforms import.

What is written
---------------
IMS Question and Test Interoperability **2.1** (namespace
`http://www.imsglobal.org/xsd/imsqti_v2p1`), packaged as IMS Content Packaging 1.1
(`imsmanifest.xml`, namespace `http://www.imsglobal.org/xsd/imscp_v1p1`) the way the QTI
2.1 integration guide describes: one `assessmentItem` file per question under `items/`,
each listed in the manifest as a resource of type `imsqti_item_xmlv2p1`, plus one
`assessmentTest` (resource type `imsqti_test_xmlv2p1`) that references every item, for
platforms that import tests rather than loose items (leave it out with `test_title=None`).

- multiple_choice / true_false: a `choiceInteraction` (`maxChoices` 1, or 0 when several
  choices are correct, with `cardinality="multiple"`), the `correctResponse` from
  `correct_choices`, and `responseProcessing` by the standard `match_correct` template,
  the one template every importer below handles.
- open: an `extendedTextInteraction`, scored by a person: no response processing.
- The model answer, the key points and the per-choice explanations go in a
  `rubricBlock view="scorer tutor"` of the item body: shown to scorers, never to
  candidates. (Per-choice `feedbackInline` would need response processing beyond
  `match_correct`, which the importers below do not all take.)
- Metadata, in each resource's IMS LOM (`imsmd_v1p2`): the title, the tags as
  keywords, the topic names as a classification `taxonpath` (how Inspera labels
  imported items), and the difficulty.
- Identifiers (item, resource, choice) are XML NCNames: `item-<slug>`, choices `A`...

Texts are the bank's Markdown shown as plain text (escaped, line breaks kept).

Which platforms import it (from their documentation; none was tried here)
------------------------------------------------------------------------
- TAO: imports QTI 2.0/2.1 items and "QTI Package (ZIP files compatible with IMS Content
  Packaging v1.1.4)" (https://hub.taotesting.com/articles/item-types/qti).
- Inspera Assessment: "Manifest packages with QTI 2.1 items are supported"; of the
  response processing templates only `match_correct` is supported; a `taxonpath` in the
  manifest labels items (https://inspera.atlassian.net/wiki/spaces/KB/pages/149782821).
- Canvas: its QTI reader, the `qti` gem (https://github.com/instructure/qti), "supports
  QTI 1.2 and 2.1" for True/False, Multiple Choice and Multiple Answer items, and for 2.1
  it finds the items through the manifest's assessmentTest (hence the test resource).
  No Canvas guide found says that a course import takes a 2.1 zip (the common
  Canvas tools, e.g. text2qti, write QTI 1.2): try it before relying on it; open
  questions will probably not come through.
- Blackboard Learn: its help pages say question pools import and export "using the QTI
  standard" (help.blackboard.com, Original course view, Question pools) without naming
  the version; Ultra question banks import zip files. Unverified for 2.1 packages.
- Moodle: no QTI import in core. Its question/format plugins are aiken, blackboard_six
  (which reads Blackboard's own QTI-1.2-based pool exports), examview, gift,
  missingword, multianswer, xml... (github.com/moodle/moodle, question/format/); the
  old `qti2` format (Moodle 1.x, docs.moodle.org/dev/Question_formats) was for export. For
  Moodle, export Aiken, GIFT or Moodle XML.

Validation: the IMS QTI 2.1 XSD (imsqti_v2p1.xsd, final release of 31 July 2012) and
the IMS CP 1.1 / IMS MD 1.2.4 XSDs are not on PyPI; copies with their W3C and APIP
imports are in github.com/oat-sa/qti-sdk (src/qtism/data/storage/xml/schemes/). Both
the items and the manifest of a whole-bank export validate against them with lxml.
They are not vendored: that copy has its import paths rewritten (the IMS notice allows
redistributing the document unchanged) and the set is about 750 KB, so the suite checks
the package's structure (tests/bank/test_interop_formats.py) and the schema check was
run by hand (lxml's XMLSchema over each item, the test and the manifest) on 2026-12-03.

The zip is written one item file at a time; only each item's identifier, title and
metadata are kept until the manifest and the test are written at the end.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Mapping
from typing import Any, BinaryIO
from xml.etree import ElementTree as ET

QTI_NS = "http://www.imsglobal.org/xsd/imsqti_v2p1"
QTI_XSD = "http://www.imsglobal.org/xsd/qti/qtiv2p1/imsqti_v2p1.xsd"
CP_NS = "http://www.imsglobal.org/xsd/imscp_v1p1"
CP_XSD = "http://www.imsglobal.org/xsd/imscp_v1p1.xsd"
MD_NS = "http://www.imsglobal.org/xsd/imsmd_v1p2"
MD_XSD = "http://www.imsglobal.org/xsd/imsmd_v1p2p4.xsd"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
MATCH_CORRECT = "http://www.imsglobal.org/question/qti_v2p1/rptemplates/match_correct"
ITEM_TYPE = "imsqti_item_xmlv2p1"
TEST_TYPE = "imsqti_test_xmlv2p1"
TEST_ID = "assessment-test"
TOOL = "Question Bank API"

_NOT_NCNAME = re.compile(r"[^A-Za-z0-9._-]+")


def _q(tag: str) -> str:
    """A QTI element's name. Elements are built with literal names and the namespaces
    declared as attributes of the root (ElementTree's own namespace handling cannot
    write a default namespace beside unprefixed attributes)."""
    return tag


def _identifier(slug: str | None, position: int, taken: set[str]) -> str:
    """An NCName for a question: `item-<slug>` (slugs are [a-z0-9-]), unique here."""
    base = _NOT_NCNAME.sub("-", slug or "").strip("-.") or str(position)
    identifier = f"item-{base}"
    suffix = 2
    while identifier in taken:
        identifier = f"item-{base}-{suffix}"
        suffix += 1
    taken.add(identifier)
    return identifier


def _choice_id(index: int) -> str:
    return chr(ord("A") + index)


def _title(prompt: str, limit: int = 120) -> str:
    line = " ".join(prompt.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _text_with_breaks(parent: ET.Element, text: str, br_tag: str) -> None:
    """Put `text` into `parent`, its line breaks as <br/> elements (text is escaped)."""
    lines = text.strip().split("\n")
    parent.text = (parent.text or "") + lines[0]
    for line in lines[1:]:
        br = ET.SubElement(parent, br_tag)
        br.tail = line


def _paragraph(parent: ET.Element, text: str) -> ET.Element:
    p = ET.SubElement(parent, _q("p"))
    _text_with_breaks(p, text, _q("br"))
    return p


def _choices(question: dict[str, Any]) -> list[str]:
    if question.get("type") == "true_false":
        return ["True", "False"]
    return list(question.get("choices") or [])


def _rubric(item_body: ET.Element, question: dict[str, Any]) -> None:
    rubric = ET.SubElement(item_body, _q("rubricBlock"), view="scorer tutor")
    _paragraph(rubric, question["answer"])
    key_points = [
        kp["text"] if isinstance(kp, dict) else kp for kp in question.get("key_points") or []
    ]
    if key_points:
        listing = ET.SubElement(rubric, _q("ul"))
        for point in key_points:
            ET.SubElement(listing, _q("li")).text = point
    explanations = question.get("explanations") or []
    if explanations:
        listing = ET.SubElement(rubric, _q("ol"))
        for index, explanation in enumerate(explanations):
            ET.SubElement(listing, _q("li")).text = f"{_choice_id(index)}: {explanation}"


def item_xml(question: dict[str, Any], identifier: str) -> bytes:
    """One question as a QTI 2.1 assessmentItem document (UTF-8 bytes)."""
    kind = question.get("type", "open")
    item = ET.Element(
        _q("assessmentItem"),
        {
            "xmlns": QTI_NS,
            "xmlns:xsi": XSI_NS,
            "xsi:schemaLocation": f"{QTI_NS} {QTI_XSD}",
            "identifier": identifier,
            "title": _title(question["prompt"]),
            "adaptive": "false",
            "timeDependent": "false",
            "toolName": TOOL,
        },
    )
    if kind == "open":
        ET.SubElement(
            item,
            _q("responseDeclaration"),
            identifier="RESPONSE",
            cardinality="single",
            baseType="string",
        )
    else:
        correct = question.get("correct_choices") or []
        declaration = ET.SubElement(
            item,
            _q("responseDeclaration"),
            identifier="RESPONSE",
            cardinality="single" if len(correct) == 1 else "multiple",
            baseType="identifier",
        )
        values = ET.SubElement(declaration, _q("correctResponse"))
        for index in correct:
            ET.SubElement(values, _q("value")).text = _choice_id(index)
    score = ET.SubElement(
        item, _q("outcomeDeclaration"), identifier="SCORE", cardinality="single", baseType="float"
    )
    ET.SubElement(ET.SubElement(score, _q("defaultValue")), _q("value")).text = "0"

    body = ET.SubElement(item, _q("itemBody"))
    if kind == "open":
        interaction = ET.SubElement(
            body, _q("extendedTextInteraction"), responseIdentifier="RESPONSE"
        )
        _text_with_breaks(ET.SubElement(interaction, _q("prompt")), question["prompt"], _q("br"))
    else:
        correct = question.get("correct_choices") or []
        interaction = ET.SubElement(
            body,
            _q("choiceInteraction"),
            responseIdentifier="RESPONSE",
            shuffle="false",
            maxChoices="1" if len(correct) == 1 else "0",
        )
        _text_with_breaks(ET.SubElement(interaction, _q("prompt")), question["prompt"], _q("br"))
        for index, choice in enumerate(_choices(question)):
            simple = ET.SubElement(interaction, _q("simpleChoice"), identifier=_choice_id(index))
            _text_with_breaks(simple, choice, _q("br"))
    _rubric(body, question)
    if kind != "open":
        ET.SubElement(item, _q("responseProcessing"), template=MATCH_CORRECT)
    return _serialize(item)


def _serialize(root: ET.Element) -> bytes:
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _lom(entry: dict[str, Any]) -> ET.Element:
    """The IMS LOM (v1.2) of one resource: title, keywords, topics, difficulty."""

    def md(parent: ET.Element, tag: str) -> ET.Element:
        return ET.SubElement(parent, f"imsmd:{tag}")

    def langstring(parent: ET.Element, text: str) -> None:
        md(parent, "langstring").text = text

    lom = ET.Element("imsmd:lom")
    general = md(lom, "general")
    langstring(md(general, "title"), entry["title"])
    for keyword in entry["keywords"]:
        langstring(md(general, "keyword"), keyword)
    if entry.get("difficulty"):
        educational = md(lom, "educational")
        difficulty = md(educational, "difficulty")
        langstring(md(difficulty, "source"), "LOMv1.0")
        langstring(md(difficulty, "value"), entry["difficulty"])
    if entry["topics"]:
        classification = md(lom, "classification")
        purpose = md(classification, "purpose")
        langstring(md(purpose, "source"), "LOMv1.0")
        langstring(md(purpose, "value"), "discipline")
        for name in entry["topics"]:
            taxonpath = md(classification, "taxonpath")
            langstring(md(taxonpath, "source"), "Topics")
            taxon = md(taxonpath, "taxon")
            langstring(md(taxon, "entry"), name)
    return lom


# The bank's difficulties against LOM's vocabulary (very easy ... very difficult).
_LOM_DIFFICULTY = {"easy": "easy", "medium": "medium", "hard": "difficult"}


def _streamed(target: BinaryIO, root: ET.Element, container: ET.Element, children) -> None:
    """Write `root` to `target` with `children` (elements, made one at a time) inside
    `container`, an empty element of it: a package of any size never holds its whole
    manifest or test as a tree."""
    marker = "qbank-children-go-here"
    container.text = marker
    head, tail = _serialize(root).split(marker.encode("utf-8"))
    target.write(head)
    for child in children:
        target.write(ET.tostring(child, encoding="unicode").encode("utf-8"))
    target.write(tail)


def _write_manifest(target: BinaryIO, entries: list[dict[str, Any]], test_href: str | None) -> None:
    cp = ""  # the manifest's elements are in the default (IMS CP) namespace
    manifest = ET.Element(
        "manifest",
        {
            "xmlns": CP_NS,
            "xmlns:imsmd": MD_NS,
            "xmlns:xsi": XSI_NS,
            "identifier": "MANIFEST-qbank",
            "xsi:schemaLocation": f"{CP_NS} {CP_XSD} {MD_NS} {MD_XSD}",
        },
    )
    metadata = ET.SubElement(manifest, f"{cp}metadata")
    ET.SubElement(metadata, f"{cp}schema").text = "QTIv2.1 Package"
    ET.SubElement(metadata, f"{cp}schemaversion").text = "1.0.0"
    ET.SubElement(manifest, f"{cp}organizations")
    resources = ET.SubElement(manifest, f"{cp}resources")

    def children():
        if test_href:
            test = ET.Element(f"{cp}resource", identifier=TEST_ID, type=TEST_TYPE, href=test_href)
            ET.SubElement(test, f"{cp}file", href=test_href)
            for entry in entries:
                ET.SubElement(test, f"{cp}dependency", identifierref=entry["identifier"])
            yield test
        for entry in entries:
            resource = ET.Element(
                f"{cp}resource",
                identifier=entry["identifier"],
                type=ITEM_TYPE,
                href=entry["href"],
            )
            ET.SubElement(resource, f"{cp}metadata").append(_lom(entry))
            ET.SubElement(resource, f"{cp}file", href=entry["href"])
            yield resource

    _streamed(target, manifest, resources, children())


def _write_test(target: BinaryIO, entries: list[dict[str, Any]], title: str) -> None:
    test = ET.Element(
        _q("assessmentTest"),
        {
            "xmlns": QTI_NS,
            "xmlns:xsi": XSI_NS,
            "xsi:schemaLocation": f"{QTI_NS} {QTI_XSD}",
            "identifier": TEST_ID,
            "title": title,
            "toolName": TOOL,
        },
    )
    part = ET.SubElement(
        test,
        _q("testPart"),
        identifier="part-1",
        navigationMode="nonlinear",
        submissionMode="simultaneous",
    )
    section = ET.SubElement(
        part, _q("assessmentSection"), identifier="section-1", title=title, visible="true"
    )
    # The test lives at the package root, the items under items/.
    refs = (
        ET.Element(_q("assessmentItemRef"), identifier=entry["identifier"], href=entry["href"])
        for entry in entries
    )
    _streamed(target, test, section, refs)


def export_qti(
    questions: Iterable[dict[str, Any]],
    topics: Mapping[str, dict[str, Any]],
    out: BinaryIO,
    *,
    test_title: str | None = "Flask interview questions",
) -> int:
    """Write a QTI 2.1 content package (zip) of `questions` to `out`; the item count.

    `topics` maps topic slugs to topics ({"name": ...}); their names become the items'
    classification. `out` need not be seekable (a response stream will do).
    """
    taken: set[str] = set()
    entries: list[dict[str, Any]] = []
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as package:
        for position, question in enumerate(questions, start=1):
            identifier = _identifier(question.get("slug"), position, taken)
            href = f"items/{identifier}.xml"
            with package.open(href, "w") as target:
                target.write(item_xml(question, identifier))
            entries.append(
                {
                    "identifier": identifier,
                    "href": href,
                    "title": _title(question["prompt"]),
                    "keywords": list(question.get("tags") or []),
                    "topics": [
                        (topics.get(slug) or {}).get("name") or slug
                        for slug in question.get("topics") or []
                    ],
                    "difficulty": _LOM_DIFFICULTY.get(question.get("difficulty") or ""),
                }
            )
        test_href = "assessment.xml" if test_title else None
        if test_href:
            with package.open(test_href, "w") as target:
                _write_test(target, entries, test_title)
        with package.open("imsmanifest.xml", "w") as target:
            _write_manifest(target, entries, test_href)
    return len(entries)
