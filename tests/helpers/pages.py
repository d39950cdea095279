"""Reading the HTML of responses with a parser (Python's html.parser: no dependency), never with regexes.

parse(markup) gives a small tree of Elements: find()/find_all() by tag and attributes, their words
(.text), their attributes (.get()), and the source of what they hold (.html) for the few tests that
look at markup as sent."""
from __future__ import annotations

import json
from html.parser import HTMLParser

# Elements that never have content or an end tag.
VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
                  "wbr"})


class Element:
    """One element of a parsed page: its tag, attributes, children (Elements and strings) and its place in
    the source."""

    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Element | None, source: str,
                 start: int = 0, inner_start: int = 0):
        self.tag, self.attrs, self.parent, self.source = tag, attrs, parent, source
        self.children: list[Element | str] = []
        self.start, self.inner_start = start, inner_start
        self.inner_end = self.end = len(source)

    def __repr__(self):
        return f"<{self.tag} {self.attrs}>"

    def get(self, name: str, default=None):
        """An attribute's value ("" for one written without a value), or default when it is absent."""
        if name not in self.attrs:
            return default
        value = self.attrs[name]
        return "" if value is None else value

    def has(self, name: str) -> bool:
        return name in self.attrs

    def iter(self):
        """The descendants in document order."""
        for child in self.children:
            if isinstance(child, Element):
                yield child
                yield from child.iter()

    def find_all(self, tag: str | None = None, **attrs) -> list[Element]:
        """Descendants with this tag (any when None) whose attributes match: a string is compared with the
        value, True asks for the attribute, False for its absence, a callable is given the value. Names are
        written as Python allows: class_ for class, hx_swap_oob for hx-swap-oob."""
        wanted = {name.rstrip("_").replace("_", "-"): value for name, value in attrs.items()}
        return [element for element in self.iter()
                if (tag is None or element.tag == tag) and all(_matches(element, name, value)
                                                               for name, value in wanted.items())]

    def find(self, tag: str | None = None, **attrs) -> Element | None:
        found = self.find_all(tag, **attrs)
        return found[0] if found else None

    def one(self, tag: str | None = None, **attrs) -> Element:
        """The only descendant that matches; fails the test when there is none or more than one."""
        found = self.find_all(tag, **attrs)
        assert len(found) == 1, f"expected one <{tag or '*'} {attrs}>, found {len(found)}"
        return found[0]

    def words(self, without=()) -> str:
        """The words inside, tags counting as spaces, leaving out the elements in `without`."""
        parts = []

        def walk(element):
            for child in element.children:
                if isinstance(child, str):
                    parts.append(child)
                elif child not in without:
                    parts.append(" ")
                    walk(child)
                    parts.append(" ")
        walk(self)
        return " ".join("".join(parts).split())

    @property
    def text(self) -> str:
        return self.words()

    @property
    def html(self) -> str:
        """What the element holds, as written in the source."""
        return self.source[self.inner_start:self.inner_end]

    @property
    def outer_html(self) -> str:
        return self.source[self.start:self.end]

    def cells(self) -> list[str]:
        """The words of each cell (td) of a row, in order."""
        return [cell.text for cell in self.find_all("td")]


def _matches(element: Element, name: str, value) -> bool:
    if value is True:
        return element.has(name)
    if value is False:
        return not element.has(name)
    actual = element.get(name)
    if actual is None:
        return False
    return value(actual) if callable(value) else actual == value


class _TreeBuilder(HTMLParser):
    def __init__(self, markup: str):
        super().__init__(convert_charrefs=True)
        self.markup = markup
        self.line_starts = [0]  # where each line begins: getpos() gives (line, column)
        newline = markup.find("\n")
        while newline != -1:
            self.line_starts.append(newline + 1)
            newline = markup.find("\n", newline + 1)
        self.root = Element("#document", {}, None, markup)
        self.stack = [self.root]

    def _offset(self) -> int:
        line, column = self.getpos()
        return self.line_starts[line - 1] + column

    def handle_starttag(self, tag, attrs):
        start = self._offset()
        inner_start = start + len(self.get_starttag_text())
        element = Element(tag, dict(attrs), self.stack[-1], self.markup, start, inner_start)
        self.stack[-1].children.append(element)
        if tag in VOID:
            element.inner_end = element.end = inner_start
        else:
            self.stack.append(element)

    def handle_startendtag(self, tag, attrs):
        start = self._offset()
        end = start + len(self.get_starttag_text())
        element = Element(tag, dict(attrs), self.stack[-1], self.markup, start, end)
        element.inner_end = element.end = end
        self.stack[-1].children.append(element)

    def handle_endtag(self, tag):
        if not any(element.tag == tag for element in self.stack[1:]):
            return  # a stray end tag, as a browser ignores it
        inner_end = self._offset()
        end = self.markup.index(">", inner_end) + 1
        while True:
            element = self.stack.pop()
            element.inner_end, element.end = (inner_end, end) if element.tag == tag else (inner_end, inner_end)
            if element.tag == tag:
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(markup: str) -> Element:
    """The tree of an HTML page or fragment (its root holds the top-level elements)."""
    builder = _TreeBuilder(markup)
    builder.feed(markup)
    builder.close()
    return builder.root


def page_tree(response) -> Element:
    """The tree of a response's HTML."""
    return parse(response.get_data(as_text=True))


def text(markup: str) -> str:
    """The words of an HTML page or fragment, tags dropped and entities decoded."""
    return parse(markup).text


def page_text(response) -> str:
    """The words of a response's HTML."""
    return text(response.get_data(as_text=True))


def csrf_token(markup: str) -> str:
    """The CSRF token a page gives htmx (the X-CSRFToken of the body's hx-headers)."""
    body = parse(markup).find("body", hx_headers=True)
    assert body is not None, "no hx-headers on the page's body"
    return json.loads(body.get("hx-headers"))["X-CSRFToken"]


def form_token(markup: str) -> str:
    """The CSRF token of a page's first form (its hidden csrf_token field)."""
    field = parse(markup).find("input", name="csrf_token")
    assert field is not None, "no csrf_token field on the page"
    return field.get("value")


def field_error(markup: str, field_id: str) -> str:
    """The error shown next to a field: its control says aria-invalid and points at the message (SPEC: the
    message stands next to the field). Fails the test when the field is not marked."""
    root = parse(markup)
    controls = [element for element in root.find_all(id=field_id) if element.tag in ("input", "select", "textarea")]
    assert controls, f"no control {field_id}"
    control = controls[0]
    assert control.get("aria-invalid") == "true", f"{field_id} is not marked invalid"
    assert f"{field_id}-error" in control.get("aria-describedby", "").split(), f"{field_id} does not point at its error"
    message = root.find("small", id=f"{field_id}-error")
    assert message is not None, f"no message next to {field_id}"
    return message.text


def table_after(markup: str, heading: str) -> Element:
    """The first table after the heading (h1-h6) whose words are `heading`."""
    seen = False
    for element in parse(markup).iter():
        if seen and element.tag == "table":
            return element
        if element.tag in ("h1", "h2", "h3", "h4", "h5", "h6") and element.text == heading:
            seen = True
    raise AssertionError(f"no table after the heading {heading!r}")
