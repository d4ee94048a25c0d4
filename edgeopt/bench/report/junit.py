"""JUnit XML: one test case per budget (or per artifact when there is no budget)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from edgeopt.bench.gate import describe_decision


def render_junit(results: dict) -> str:
    g = results.get("gate")
    suite = ET.Element("testsuite", name="edgeopt.gate" if g else "edgeopt.bench")
    cases = 0
    failures = 0
    if g:
        for d in g["decisions"]:
            tc = ET.SubElement(
                suite, "testcase", classname=f"edgeopt.gate.{d['artifact']}", name=d["budget"]
            )
            ET.SubElement(tc, "system-out").text = describe_decision(d)
            if d["status"] == "fail":
                failures += 1
                f = ET.SubElement(tc, "failure", message=describe_decision(d), type=d["outcome"])
                f.text = d.get("note") or ""
            cases += 1
    else:
        for a in results["artifacts"]:
            tc = ET.SubElement(suite, "testcase", classname="edgeopt.bench", name=a["name"])
            if a.get("error"):
                failures += 1
                ET.SubElement(tc, "failure", message=f"failed to load: {a['error']}", type="load")
            cases += 1
    for a in results["artifacts"]:  # a load failure is visible even when it has no budget
        if g and a.get("error") and not any(d["artifact"] == a["name"] for d in g["decisions"]):
            tc = ET.SubElement(
                suite, "testcase", classname=f"edgeopt.gate.{a['name']}", name="load"
            )
            ET.SubElement(tc, "failure", message=f"failed to load: {a['error']}", type="load")
            cases += 1
            failures += 1
    if results.get("warnings"):  # e.g. a different baseline: CI shows the suite's output
        ET.SubElement(suite, "system-out").text = "\n".join(
            f"warning: {w}" for w in results["warnings"]
        )
    suite.set("tests", str(cases))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("time", str(results.get("elapsed_s", 0)))
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
