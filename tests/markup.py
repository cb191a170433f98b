"""What a report page may hold when records carry markup: the elements and attributes the site's
own HTML uses, a parser that sees a page as a browser does, and the check that no record put
markup, a script or an outside link in it."""

from html.parser import HTMLParser

from bench.html.assets import SCRIPT

HOSTILE = '"><script>alert(1)</script><img src=x onerror=alert(2)> $\\x{'  # and no TeX for matplotlib


TAGS = {
    "html",
    "head",
    "meta",
    "title",
    "style",
    "body",
    "script",
    "header",
    "h1",
    "h2",
    "h3",
    "h4",
    "p",
    "code",
    "strong",
    "nav",
    "a",
    "main",
    "section",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "span",
    "small",
    "div",
    "ul",
    "li",
    "figure",
    "img",
    "figcaption",
    "pre",
    "details",
    "summary",
    "label",
    "select",
    "option",
}


ATTRIBUTES = {
    "lang",
    "charset",
    "name",
    "content",
    "class",
    "id",
    "href",
    "src",
    "alt",
    "title",
    "loading",
    "data-value",
    "data-type",
    "data-better",
    "data-row",
    "data-table",
    "data-choice",
    "data-choice-img",
    "data-choice-caption",
    "data-alt",
    "value",
}


class Elements(HTMLParser):
    """Every element, attribute, script body and text of a page, as a browser's parser sees them."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements, self.scripts, self.text, self._in_script = [], [], [], False

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, attrs))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        (self.scripts if self._in_script else self.text).append(data)


def assert_no_markup_from_records(text: str) -> Elements:
    parsed = Elements()
    parsed.feed(text)
    tags = {tag for tag, _ in parsed.elements}
    names = {name for _, attrs in parsed.elements for name, _ in attrs}
    assert tags <= TAGS and names <= ATTRIBUTES, (tags - TAGS, names - ATTRIBUTES)
    assert parsed.scripts == [SCRIPT]  # the page's own script, and nothing else runs
    links = [value for _, attrs in parsed.elements for name, value in attrs if name in ("href", "src")]
    assert not [link for link in links if ":" in link.split("#")[0] or link.startswith("/")], links
    return parsed


def files_outside(tmp_path, site):
    return sorted(p for p in tmp_path.rglob("*") if p.is_file() and site not in p.parents)
