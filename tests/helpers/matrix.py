"""Reading the level matrix (templates/macros/matrix.html) of a page: one row per tool, one radio per level."""
from __future__ import annotations

import html
import re


def matrix_row(markup: str, fieldset: str, tool_id: int) -> dict:
    """The row of one tool in the matrix `fieldset`: the rank checked, the ranks disabled, each radio's
    accessible name and aria-describedby, the note (the reason cells are disabled, and errors) and its html."""
    anchor = markup.find(f'id="{fieldset}-{tool_id}-0"')
    assert anchor >= 0, f"no row for tool {tool_id} in matrix {fieldset}"
    start, end = markup.rfind("<tr", 0, anchor), markup.find("</tr>", anchor) + len("</tr>")
    row = markup[start:end]
    radios = []
    for tag in re.findall(r'<input type="radio"[^>]*>', row, re.S):
        attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', tag))
        bare = set(re.findall(r'\s([\w-]+)(?=[\s>])(?!=)', tag.replace('"', '" ')))
        radios.append(dict(rank=int(attrs["value"]), name=attrs["name"], label=html.unescape(attrs.get("aria-label", "")),
                           checked="checked" in bare, disabled="disabled" in bare,
                           described=attrs.get("aria-describedby", ""), invalid=attrs.get("aria-invalid") == "true"))
    note = re.search(r'<td class="matrix-note">(.*?)</td>', row, re.S).group(1)
    visible_note = re.sub(r"<small[^>]*\bhidden\b[^>]*>.*?</small>", "", note, flags=re.S)
    return dict(checked=next((r["rank"] for r in radios if r["checked"]), None),
                disabled={r["rank"] for r in radios if r["disabled"]}, radios=radios,
                note=" ".join(html.unescape(re.sub(r"<[^>]+>", " ", visible_note)).split()), html=row)
