"""The bank's licence: in the seed file's metadata, every export, and the API's links.

CC BY-SA 4.0, the licence of Stack Overflow's and Wikipedia's text: anyone may copy,
adapt and republish the questions, even commercially, if they credit the bank and share
their changes under the same terms, so improvements to a shared bank come back to it.
"""

from __future__ import annotations

LICENCE = {
    "name": "Creative Commons Attribution-ShareAlike 4.0 International",
    "spdx": "CC-BY-SA-4.0",
    "url": "https://creativecommons.org/licenses/by-sa/4.0/",
    "attribution": "Question Bank API contributors",
}
# RFC 8288 / RFC 4946: a link to the licence of the representation.
LICENCE_LINK = f'<{LICENCE["url"]}>; rel="license"'


def notice() -> str:
    """One line naming the licence, for formats with no metadata slot."""
    return (
        f"Licensed under {LICENCE['name']} ({LICENCE['spdx']}, {LICENCE['url']}); "
        f"attribution: {LICENCE['attribution']}."
    )
