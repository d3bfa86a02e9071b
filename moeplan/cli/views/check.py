"""Rows, JSON and JUnit XML for `moeplan check`."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

from moeplan.cli.render import Table
from moeplan.plan.budget import CheckReport, LimitResult


def _value(r: LimitResult) -> str:
    return "n/a" if r.value is None else f"{r.value:,.4g}"


def _headroom(r: LimitResult) -> str:
    return "-" if r.headroom is None else f"{r.headroom * 100:+.1f}%"


def check_table(report: CheckReport) -> Table:
    rows = [
        [
            r.budget,
            r.limit,
            f"{r.threshold:,.4g}",
            _value(r),
            _headroom(r),
            "PASS" if r.passed else "FAIL",
            r.detail,
        ]
        for r in report.results
    ]
    failed = sum(not r.passed for r in report.results)
    t = Table(
        f"moeplan check: {len(report.results) - failed} passed, {failed} failed",
        ["budget", "limit", "threshold", "value", "headroom", "result", "detail"],
        rows,
    )
    return t


def check_json(report: CheckReport) -> dict[str, Any]:
    return {
        "passed": report.passed,
        "results": [
            {
                "budget": r.budget,
                "file": r.file,
                "limit": r.limit,
                "threshold": r.threshold,
                "value": r.value,
                "headroom": r.headroom,
                "passed": r.passed,
                "detail": r.detail,
            }
            for r in report.results
        ],
    }


def junit_xml(report: CheckReport) -> str:
    """JUnit XML: one test suite per budget file, one test case per budget limit."""
    root = ET.Element("testsuites", name="moeplan check")
    by_file: dict[str, list[LimitResult]] = {}
    for r in report.results:
        by_file.setdefault(r.file, []).append(r)
    for file, results in by_file.items():
        suite = ET.SubElement(
            root,
            "testsuite",
            name=file,
            tests=str(len(results)),
            failures=str(sum(not r.passed for r in results)),
        )
        for r in results:
            case = ET.SubElement(suite, "testcase", classname=r.budget, name=r.limit)
            if not r.passed:
                fail = ET.SubElement(
                    case,
                    "failure",
                    message=f"{r.limit}: value {_value(r)} vs limit {r.threshold:g}",
                )
                fail.text = r.detail
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
