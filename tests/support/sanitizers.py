"""Sanitizer findings fail the integration tests.

In a sanitizer build (GATEWAY_SANITIZE set by ctest) the gateway stops at the first
report and exits with SANITIZER_EXIT_CODE (tests/CMakeLists.txt sets the options). A
test may not look at that exit code, or may have killed the process before, so
everything that runs one of our binaries also hands its output here: a report anywhere
in it fails the test, with the report printed.
"""

import os
import re

SANITIZER_EXIT_CODE = 23  # exitcode= in ASAN/UBSAN/TSAN_OPTIONS (tests/CMakeLists.txt)

# The first line of each kind of report; UBSan's is "file:line:col: runtime error: ...".
_REPORT = re.compile(r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|"
                     r"WARNING: ThreadSanitizer|ERROR: ThreadSanitizer")


def enabled():
    """Whether the binaries under test are sanitized (the tests may relax figures such
    as memory use that the instrumentation inflates)."""
    return bool(os.environ.get("GATEWAY_SANITIZE"))


def find_reports(text):
    """The sanitizer reports in text (each from its first line, up to 60 lines)."""
    lines = text.splitlines()
    out = []
    for i, line in enumerate(lines):
        if _REPORT.search(line):
            out.append("\n".join(lines[i:i + 60]))
    return out


def check(text, what, rc=None):
    """Raises AssertionError if text holds a sanitizer report or rc is the sanitizers'
    exit code."""
    found = find_reports(text or "")
    if found:
        raise AssertionError("%s: sanitizer report (%d in all); the first:\n%s" % (what, len(found), found[0]))
    if rc == SANITIZER_EXIT_CODE and enabled():
        raise AssertionError("%s exited with the sanitizers' exit code %d" % (what, rc))
