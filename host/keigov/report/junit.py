"""JUnit XML for CI (Jenkins, GitLab, GitHub test reporters): one test case per check.

Layout: <testsuites> holds one <testsuite> per run; each check is a <testcase> with
classname "keigov.<runtime>.<scenario>" and the check's name. A failed check carries a
<failure>; info checks pass and, like every check, print their measured value in
<system-out>. A run that ended in error adds a testcase "run" with an <error>.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from keigov.fileio import write_atomic
from keigov.report.results import FAIL, RunResult, describe, format_value

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# Characters XML 1.0 cannot hold at all; ElementTree would write them and break the file.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(text: str) -> str:
    """Text safe inside XML: terminal colour codes dropped, forbidden characters replaced."""
    return _NOT_XML.sub("\ufffd", _ANSI.sub("", text))


def _seconds(value: float) -> str:
    return f"{max(value, 0.0):.3f}"


def _suite(run: RunResult) -> ET.Element:
    classname = f"keigov.{run.runtime}.{run.scenario}"
    failures = sum(check.verdict == FAIL for check in run.checks)
    errors = int(run.error is not None)
    suite = ET.Element(
        "testsuite",
        name=_xml_text(classname),
        tests=str(len(run.checks) + errors),
        failures=str(failures),
        errors=str(errors),
        skipped="0",
        time=_seconds(run.wall_seconds),
    )
    properties = ET.SubElement(suite, "properties")
    rtf = run.realtime_factor
    for name, value in (
        ("runtime", run.runtime),
        ("sim_seconds", format_value(run.sim_seconds, "")),
        ("realtime_factor", "-" if rtf is None else format_value(rtf, "")),
    ):
        ET.SubElement(properties, "property", name=name, value=_xml_text(value))
    for check in run.checks:
        case = ET.SubElement(suite, "testcase", classname=_xml_text(classname), name=_xml_text(check.name),
                             time="0.000")
        line = _xml_text(describe(check))
        if check.verdict == FAIL:
            failure = ET.SubElement(case, "failure", message=line, type="CheckFailed")
            failure.text = _xml_text(check.description)
        ET.SubElement(case, "system-out").text = f"{_xml_text(check.description)}\n{line}"
    if run.error is not None:
        case = ET.SubElement(suite, "testcase", classname=_xml_text(classname), name="run",
                             time=_seconds(run.wall_seconds))
        message = run.error.strip().splitlines()[0] if run.error.strip() else "run failed"
        error = ET.SubElement(case, "error", message=_xml_text(message), type="RunError")
        error.text = _xml_text(run.error)
    return suite


def junit_xml(results: list[RunResult], suite_name: str = "keigov") -> bytes:
    """The JUnit document for these runs, UTF-8 with an XML declaration."""
    suites = [_suite(run) for run in results]
    root = ET.Element(
        "testsuites",
        name=_xml_text(suite_name),
        tests=str(sum(int(s.get("tests", "0")) for s in suites)),
        failures=str(sum(int(s.get("failures", "0")) for s in suites)),
        errors=str(sum(int(s.get("errors", "0")) for s in suites)),
        time=_seconds(sum(run.wall_seconds for run in results)),
    )
    root.extend(suites)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def write_junit(results: list[RunResult], path: Path, suite_name: str = "keigov") -> None:
    """Write the JUnit XML for these runs atomically."""
    write_atomic(path, junit_xml(results, suite_name))
