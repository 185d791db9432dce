#!/usr/bin/env python3
"""A strict validator for the Prometheus text exposition format 0.0.4.

Usage: promparse.py FILE      (FILE may be - for stdin)
       promparse.py --selftest

Exits 0 and prints a one-line summary if the text is valid; exits 1 with
"FILE:LINE: message" at the first violation.

The grammar follows the format's documentation and, where that is silent,
the reference Go parser (prometheus/common expfmt). Checked:

- lines end in LF and the text ends with one; blank lines are ignored;
  blanks and tabs around tokens are allowed where the Go parser allows them
  (leading and trailing, around braces, commas and equals signs);
- "# HELP name text" and "# TYPE name type" (type one of counter, gauge,
  histogram, summary, untyped, in lower case); any other "#" line is a
  comment; HELP text allows only the escapes \\\\ and \\n;
- samples: name{label="value",...} value [timestamp], with metric names
  [a-zA-Z_:][a-zA-Z0-9_:]* and label names [a-zA-Z_][a-zA-Z0-9_]*, label
  values allowing only the escapes \\\\, \\" and \\n; values as Go's
  strconv.ParseFloat reads them (+Inf, -Inf, Inf, Infinity and NaN in any
  case) except the hexadecimal and underscore forms that Prometheus's own
  parser refuses; an optional int64 timestamp;
- the whole text is valid UTF-8;
- per family: at most one HELP and one TYPE, the TYPE before any sample,
  all its lines in one group (a family does not reappear once another has
  started); summaries and histograms group their _sum, _count and _bucket
  samples as Prometheus does;
- no duplicate series (name and label set), no duplicate label name within
  a sample, no label name starting with "__";
- counters, and the _count and _bucket samples of summaries and
  histograms, are not negative and not NaN; a histogram's _bucket has an
  "le" label and a summary's quantile sample a "quantile" label, both
  numbers.

Stricter than the Go parser where it tolerates what no exposer should
write: a HELP or TYPE line without a metric name, a TYPE line without a
type, a type in upper case.

Other scripts import parse(text), which returns
{(name, frozenset(labels.items())): value} or raises ParseError, and
parse_exposition(text), which also returns the families.
"""
import math
import re
import sys

TYPES = ("counter", "gauge", "histogram", "summary", "untyped")
METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# Go's ParseFloat without hexadecimal mantissas and digit separators.
FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
                   r"|[+-]?(?i:inf|infinity)|(?i:nan)")
TIMESTAMP = re.compile(r"[+-]?[0-9]+")
BLANKS = " \t"
INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1


class ParseError(ValueError):
    """The first violation: line is 1-based (0: about the text as a whole)."""

    def __init__(self, line, message):
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


class Family:
    def __init__(self, name):
        self.name = name
        self.type = None  # as declared; None means untyped
        self.help = None
        self.samples = []  # (sample name, labels dict, value, timestamp)

    @property
    def kind(self):
        return self.type or "untyped"


class Exposition:
    def __init__(self):
        self.families = {}  # name -> Family, in order of appearance
        self.samples = {}  # (name, frozenset(labels.items())) -> value


def parse_float(token):
    """The value of a sample value token, or None if it is not one."""
    if FLOAT.fullmatch(token) is None:
        return None
    return float(token)


def _skip_blanks(line, i):
    while i < len(line) and line[i] in BLANKS:
        i += 1
    return i


def _unescape_help(text, lineno):
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            nxt = text[i + 1] if i + 1 < len(text) else ""
            if nxt == "\\":
                out.append("\\")
            elif nxt == "n":
                out.append("\n")
            else:
                raise ParseError(lineno, f"invalid escape sequence '\\{nxt}' "
                                 "in HELP text (only \\\\ and \\n)")
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _read_labels(line, i, lineno):
    """Reads {...} starting at line[i] == '{'. Returns (labels, next i)."""
    labels = {}
    i = _skip_blanks(line, i + 1)
    while True:
        if i >= len(line):
            raise ParseError(lineno, "unterminated label set")
        if line[i] == "}":
            return labels, i + 1
        m = LABEL_NAME.match(line, i)
        if m is None:
            raise ParseError(lineno, f"invalid label name at column {i + 1}")
        name = m.group()
        if name.startswith("__"):
            raise ParseError(lineno, f"label name {name!r} is reserved "
                             "(starts with __)")
        if name in labels:
            raise ParseError(lineno, f"duplicate label name {name!r}")
        i = _skip_blanks(line, m.end())
        if i >= len(line) or line[i] != "=":
            raise ParseError(lineno, f"expected '=' after label name {name!r}")
        i = _skip_blanks(line, i + 1)
        if i >= len(line) or line[i] != '"':
            raise ParseError(lineno, f"expected '\"' to open the value of "
                             f"label {name!r}")
        i += 1
        value = []
        while True:
            if i >= len(line):
                raise ParseError(lineno, f"unterminated value of label {name!r}")
            c = line[i]
            if c == '"':
                i += 1
                break
            if c == "\\":
                nxt = line[i + 1] if i + 1 < len(line) else ""
                if nxt in ('\\', '"'):
                    value.append(nxt)
                elif nxt == "n":
                    value.append("\n")
                else:
                    raise ParseError(lineno, f"invalid escape sequence "
                                     f"'\\{nxt}' in the value of label "
                                     f"{name!r} (only \\\\, \\\" and \\n)")
                i += 2
            else:
                value.append(c)
                i += 1
        labels[name] = "".join(value)
        i = _skip_blanks(line, i)
        if i < len(line) and line[i] == ",":
            i = _skip_blanks(line, i + 1)
        elif i < len(line) and line[i] != "}":
            raise ParseError(lineno, f"expected ',' or '}}' after the value "
                             f"of label {name!r}")


def _family_of(exp, name):
    """The family a sample name belongs to, as the Go parser decides."""
    if name in exp.families:
        return name, None
    for suffix, kinds in (("_sum", ("summary", "histogram")),
                          ("_count", ("summary", "histogram")),
                          ("_bucket", ("histogram",))):
        if name.endswith(suffix):
            base = name[: -len(suffix)]
            fam = exp.families.get(base)
            if fam is not None and fam.kind in kinds:
                return base, suffix
    return name, None


class _Parser:
    def __init__(self):
        self.exp = Exposition()
        self.current = None  # the family whose group is open
        self.closed = set()  # families whose group has ended

    def enter(self, name, lineno):
        """Makes name the current family, creating it if new."""
        if name == self.current:
            return self.exp.families[name]
        if name in self.closed or name in self.exp.families:
            raise ParseError(lineno, f"family {name!r} appears again after "
                             f"family {self.current!r} started (a family's "
                             "lines must be one group)")
        if self.current is not None:
            self.closed.add(self.current)
        self.current = name
        fam = Family(name)
        self.exp.families[name] = fam
        return fam

    def comment(self, line, lineno):
        i = _skip_blanks(line, 1)
        j = i
        while j < len(line) and line[j] not in BLANKS:
            j += 1
        keyword = line[i:j]
        if keyword not in ("HELP", "TYPE"):
            return  # an ordinary comment
        i = _skip_blanks(line, j)
        m = METRIC_NAME.match(line, i)
        if m is None or (m.end() < len(line) and line[m.end()] not in BLANKS):
            raise ParseError(lineno, f"{keyword} without a valid metric name")
        name = m.group()
        rest = line[_skip_blanks(line, m.end()):]
        fam = self.enter(name, lineno)
        if keyword == "HELP":
            if fam.help is not None:
                raise ParseError(lineno, f"second HELP line for {name!r}")
            fam.help = _unescape_help(rest, lineno)
        else:
            if fam.type is not None:
                raise ParseError(lineno, f"second TYPE line for {name!r}")
            if fam.samples:
                raise ParseError(lineno, f"TYPE line for {name!r} after its "
                                 "samples")
            if rest not in TYPES:
                raise ParseError(lineno, f"unknown metric type {rest!r} for "
                                 f"{name!r} (one of {', '.join(TYPES)})")
            fam.type = rest

    def sample(self, line, lineno):
        i = _skip_blanks(line, 0)
        m = METRIC_NAME.match(line, i)
        if m is None:
            raise ParseError(lineno, "invalid metric name")
        name = m.group()
        i = _skip_blanks(line, m.end())
        labels = {}
        if i < len(line) and line[i] == "{":
            labels, i = _read_labels(line, i, lineno)
            if i < len(line) and line[i] not in BLANKS:
                raise ParseError(lineno, "expected a blank after the label "
                                 "set")
        elif m.end() < len(line) and line[m.end()] not in BLANKS:
            raise ParseError(lineno, "invalid metric name")
        # Only blanks and tabs separate tokens: a CR is part of a token.
        tokens = [t for t in re.split("[ \t]+", line[i:]) if t]
        if not tokens:
            raise ParseError(lineno, f"sample {name!r} without a value")
        if len(tokens) > 2:
            raise ParseError(lineno, "unexpected text after the timestamp")
        value = parse_float(tokens[0])
        if value is None:
            raise ParseError(lineno, f"invalid value {tokens[0]!r}")
        timestamp = None
        if len(tokens) == 2:
            if TIMESTAMP.fullmatch(tokens[1]) is None:
                raise ParseError(lineno, f"invalid timestamp {tokens[1]!r} "
                                 "(an integer of milliseconds)")
            timestamp = int(tokens[1])
            if not INT64_MIN <= timestamp <= INT64_MAX:
                raise ParseError(lineno, f"timestamp {tokens[1]} out of range")

        family_name, suffix = _family_of(self.exp, name)
        fam = self.enter(family_name, lineno)
        kind = fam.kind
        if kind == "histogram" and suffix is None:
            raise ParseError(lineno, f"histogram {family_name!r}: sample "
                             f"{name!r} is not _bucket, _sum or _count")
        if kind == "histogram" and suffix == "_bucket":
            if "le" not in labels or parse_float(labels["le"]) is None:
                raise ParseError(lineno, f"{name!r}: a bucket needs a numeric "
                                 "'le' label")
        if kind == "summary" and suffix is None:
            if "quantile" not in labels or \
                    parse_float(labels["quantile"]) is None:
                raise ParseError(lineno, f"{name!r}: a summary sample needs a "
                                 "numeric 'quantile' label")
        if kind == "counter" or suffix in ("_count", "_bucket"):
            if math.isnan(value) or value < 0:
                what = "counter" if kind == "counter" else f"{kind} count"
                raise ParseError(lineno, f"{what} {name!r} cannot be "
                                 f"{tokens[0]}")
        key = (name, frozenset(labels.items()))
        if key in self.exp.samples:
            raise ParseError(lineno, f"duplicate series {name}"
                             f"{_format_labels(labels)}")
        self.exp.samples[key] = value
        fam.samples.append((name, labels, value, timestamp))


def _format_labels(labels):
    if not labels:
        return ""
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return "{" + inner + "}"


def _decode(data):
    """data as text, or ParseError naming the line of the first bad byte."""
    if isinstance(data, str):
        try:
            data = data.encode("utf-8")  # surrogates, e.g. from a bad read
        except UnicodeEncodeError as e:
            line = data.count("\n", 0, e.start) + 1
            raise ParseError(line, "not valid UTF-8") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ParseError(line, f"not valid UTF-8 (byte 0x{data[e.start]:02x} "
                         f"at offset {e.start})") from None


def parse_exposition(data):
    """Parses text (str or bytes); returns an Exposition or raises
    ParseError at the first violation."""
    text = _decode(data)
    p = _Parser()
    if text == "":
        return p.exp
    lines = text.split("\n")
    if lines[-1] != "":
        raise ParseError(len(lines), "the text does not end with a newline")
    for lineno, line in enumerate(lines[:-1], 1):
        if line.strip(BLANKS) == "":
            continue
        if line.lstrip(BLANKS).startswith("#"):
            p.comment(line.lstrip(BLANKS), lineno)
        else:
            p.sample(line, lineno)
    return p.exp


def parse(data):
    """{(name, frozenset(labels.items())): value} for a valid text; raises
    ParseError otherwise."""
    return parse_exposition(data).samples


# ---- self-test --------------------------------------------------------------

GOOD = [
    ("empty text", ""),
    ("blank lines and comments", "\n# just a comment\n#\n\na 1\n\n"),
    ("documentation example",
     '# HELP http_requests_total The total number of HTTP requests.\n'
     '# TYPE http_requests_total counter\n'
     'http_requests_total{method="post",code="200"} 1027 1395066363000\n'
     'http_requests_total{method="post",code="400"}    3 1395066363000\n'
     '\n'
     '# Escaping in label values:\n'
     'msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",'
     'error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9\n'
     '\n'
     '# Minimalistic line:\n'
     'metric_without_timestamp_and_labels 12.47\n'
     '\n'
     '# A weird metric from before the epoch:\n'
     'something_weird{problem="division by zero"} +Inf -3982045\n'
     '\n'
     '# A histogram, which has a pretty complex representation in the '
     'text format:\n'
     '# HELP http_request_duration_seconds A histogram of the request '
     'duration.\n'
     '# TYPE http_request_duration_seconds histogram\n'
     'http_request_duration_seconds_bucket{le="0.05"} 24054\n'
     'http_request_duration_seconds_bucket{le="0.1"} 33444\n'
     'http_request_duration_seconds_bucket{le="+Inf"} 144320\n'
     'http_request_duration_seconds_sum 53423\n'
     'http_request_duration_seconds_count 144320\n'
     '\n'
     '# Finally a summary, which has a complex representation, too:\n'
     '# HELP rpc_duration_seconds A summary of the RPC duration in '
     'seconds.\n'
     '# TYPE rpc_duration_seconds summary\n'
     'rpc_duration_seconds{quantile="0.01"} 3102\n'
     'rpc_duration_seconds{quantile="0.5"} 4773\n'
     'rpc_duration_seconds{quantile="0.99"} 76656\n'
     'rpc_duration_seconds_sum 1.7560473e+07\n'
     'rpc_duration_seconds_count 2693\n'),
    ("special values", "a -Inf\nb inf\nc Infinity\nd NaN\ne nan\nf 1.\n"
                       "g .5\nh 1E+05\ni -0\nj +3\n"),
    ("HELP escapes", "# HELP a back\\\\slash and\\nnewline\na 1\n"),
    ("HELP without text", "# HELP a\na 1\n"),
    ("UTF-8 label value", 'a{route="Zürich → 東京"} 1\n'),
    ("blanks around tokens",
     '  a { x = "1" , y="2" , } 1  \n\tb{} 2\t123\n'),
    ("TYPE for a family without samples", "# TYPE a gauge\nb 1\n"),
    ("colons in metric names", "job:requests:rate5m 0.5\n"),
    ("gauge may be negative", "# TYPE g gauge\ng -3\n"),
    ("same name, different labels", 'a{x="1"} 1\na{x="2"} 1\na 3\n'),
    ("label name prefix _ allowed", 'a{_x="1"} 1\n'),
    ("largest timestamp", "a 1 9223372036854775807\n"),
]

BAD = [
    ("no final newline", "a 1", 1),
    ("metric name starts with a digit", "1a 1\n", 1),
    ("metric name with a dash", "a-b 1\n", 1),
    ("label name starts with a digit", 'a{1b="x"} 1\n', 1),
    ("empty label name", 'a{="x"} 1\n', 1),
    ("label name with a colon", 'a{b:c="x"} 1\n', 1),
    ("reserved label name", 'a{__name__="x"} 1\n', 1),
    ("reserved label prefix", 'a{__x="y"} 1\n', 1),
    ("duplicate label name", 'a{x="1",x="2"} 1\n', 1),
    ("invalid escape \\t", 'a{x="\\t"} 1\n', 1),
    ("invalid escape \\'", "a{x=\"\\'\"} 1\n", 1),
    ("unterminated label value", 'a{x="1} 1\n', 1),
    ("unquoted label value", "a{x=1} 1\n", 1),
    ("missing =", 'a{x"1"} 1\n', 1),
    ("missing comma", 'a{x="1" y="2"} 1\n', 1),
    ("unterminated label set", 'a{x="1" 1\n', 1),
    ("text after the label set", 'a{x="1"}b 1\n', 1),
    ("invalid UTF-8 in a label value", b'ok 1\na{x="\xff"} 1\n', 2),
    ("overlong UTF-8", b'a{x="\xc0\xaf"} 1\n', 1),
    ("UTF-16 surrogate", b'a{x="\xed\xa0\x80"} 1\n', 1),
    ("no value", "a\n", 1),
    ("no value after labels", 'a{x="1"}\n', 1),
    ("two dots", "a 1.2.3\n", 1),
    ("hexadecimal float", "a 0x1p3\n", 1),
    ("digit separator", "a 1_000\n", 1),
    ("signed NaN", "a +NaN\n", 1),
    ("truncated infinity", "a infin\n", 1),
    ("comma as decimal point", "a 1,5\n", 1),
    ("fractional timestamp", "a 1 1.5\n", 1),
    ("timestamp out of range", "a 1 9223372036854775808\n", 1),
    ("text after the timestamp", "a 1 2 3\n", 1),
    ("CRLF line ending", "a 1\r\n", 1),
    ("unknown type", "# TYPE a foo\n", 1),
    ("upper-case type", "# TYPE a COUNTER\n", 1),
    ("TYPE without a type", "# TYPE a\n", 1),
    ("TYPE without a name", "# TYPE\n", 1),
    ("HELP with an invalid name", "# HELP 1a text\n", 1),
    ("HELP with an invalid escape", "# HELP a bad \\t escape\n", 1),
    ("second TYPE", "# TYPE a gauge\n# TYPE a gauge\na 1\n", 2),
    ("second HELP", "# HELP a one\n# HELP a two\na 1\n", 2),
    ("TYPE after samples", "a 1\n# TYPE a gauge\n", 2),
    ("family split by another", 'a 1\nb 1\na{x="y"} 2\n', 3),
    ("HELP after the family ended", "a 1\nb 1\n# HELP a late\n", 3),
    ("duplicate series", 'a{x="1"} 1\na{x="1"} 2\n', 2),
    ("duplicate series, labels reordered",
     'a{x="1",y="2"} 1\na{y="2",x="1"} 1\n', 2),
    ("duplicate series without labels", "a 1\na{} 2\n", 2),
    ("negative counter", "# TYPE c counter\nc -1\n", 2),
    ("NaN counter", "# TYPE c counter\nc NaN\n", 2),
    ("bucket without le", "# TYPE h histogram\nh_bucket 1\n", 2),
    ("histogram sample without suffix", "# TYPE h histogram\nh 1\n", 2),
    ("summary without quantile", "# TYPE s summary\ns 1\n", 2),
    ("negative summary count", "# TYPE s summary\ns_count -1\n", 2),
]


def selftest():
    failures = 0
    for what, text in GOOD:
        try:
            parse(text)
        except ParseError as e:
            print(f"FAILED: good input rejected ({what}): {e}")
            failures += 1
    for what, text, line in BAD:
        try:
            parse(text)
        except ParseError as e:
            if e.line != line:
                print(f"FAILED: bad input ({what}) rejected at line {e.line}, "
                      f"expected line {line}: {e.message}")
                failures += 1
            continue
        print(f"FAILED: bad input accepted ({what}): {text!r}")
        failures += 1
    # What parse() returns: unescaped label values, values as floats.
    got = parse('a{p="C:\\\\x",q="say \\"hi\\"\\n"} 2.5\n'
                "# TYPE b counter\nb +Inf 17\n")
    want = {("a", frozenset({("p", "C:\\x"), ("q", 'say "hi"\n')})): 2.5,
            ("b", frozenset()): math.inf}
    if got != want:
        print(f"FAILED: parse() returned {got!r}, expected {want!r}")
        failures += 1
    exp = parse_exposition("# HELP a x\\ny\n# TYPE a summary\n"
                           'a{quantile="0.5"} 1\na_sum 2\na_count 3\n')
    fam = exp.families.get("a")
    if (list(exp.families) != ["a"] or fam.type != "summary"
            or fam.help != "x\ny" or len(fam.samples) != 3):
        print("FAILED: a summary's samples are not grouped in its family")
        failures += 1
    total = len(GOOD) + len(BAD) + 2
    print(f"promparse selftest: {total - failures}/{total} cases behave")
    return 1 if failures else 0


def main(argv):
    if len(argv) == 2 and argv[1] == "--selftest":
        return selftest()
    if len(argv) != 2 or (argv[1].startswith("-") and argv[1] != "-"):
        print("usage: promparse.py FILE|-  |  promparse.py --selftest",
              file=sys.stderr)
        return 2
    name = argv[1]
    try:
        if name == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(name, "rb") as f:
                data = f.read()
    except OSError as e:
        print(f"{name}: {e.strerror}", file=sys.stderr)
        return 2
    try:
        exp = parse_exposition(data)
    except ParseError as e:
        shown = "<stdin>" if name == "-" else name
        print(f"{shown}:{e.line}: {e.message}", file=sys.stderr)
        return 1
    print(f"valid: {len(exp.families)} families, {len(exp.samples)} samples")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
