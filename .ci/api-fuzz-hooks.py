"""schemathesis hooks of .ci/api-fuzz (named by `hooks` in .ci/api-fuzz.toml).

A4: the change feed's `wait` (`list_events`) holds a request up to 60 s when no event arrives,
so a valid `wait` is sent as 0 (`map_query`); invalid ones are sent as drawn, to be refused.

Generators for the two string formats the admin API's document declares and JSON Schema cannot
spell out: `scim-user-filter` and `scim-group-filter`, SCIM filters (RFC 7644 §3.4.2.2) on the
attributes scimd filters on. Without them the fuzzer would send random text as a "valid" filter
and count the 400 `invalidFilter` as a rejected valid request. Invalid filters are still sent:
the negative phases break `maxLength`, and the SCIM filter parser has its own unit tests and
cargo-fuzz target.
"""

from __future__ import annotations

import json
import re

import schemathesis
from hypothesis import strategies as st

MAX_FILTER_CHARS = 1024

# Text without U+0000 (refused everywhere) and without lone surrogates (not encodable).
TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=12,
)
UUIDS = st.uuids().map(str)
TIMES = st.datetimes().map(lambda t: t.isoformat(timespec="seconds") + "Z")


def literal(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def compare(attrs: list[str], ops: list[str], values: st.SearchStrategy) -> st.SearchStrategy:
    return st.tuples(st.sampled_from(attrs), st.sampled_from(ops), values).map(" ".join)


TEXT_OPS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]
ORDER_OPS = ["eq", "ne", "gt", "ge", "lt", "le"]


def filters(leaf: st.SearchStrategy) -> st.SearchStrategy:
    tree = st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(" ".join),
            inner.map(lambda f: f"not ({f})"),
            inner.map(lambda f: f"({f})"),
        ),
        max_leaves=4,
    )
    return tree.filter(lambda f: len(f) <= MAX_FILTER_CHARS)


USER_TEXT = ["userName", "displayName", "externalId", "name.givenName", "name.familyName", "emails.value", "title"]
USER_LEAF = st.one_of(
    compare(USER_TEXT, TEXT_OPS, TEXT.map(literal)),
    st.sampled_from(USER_TEXT + ["active", "emails"]).map(lambda a: f"{a} pr"),
    compare(["active"], ["eq", "ne"], st.sampled_from(["true", "false"])),
    compare(["id"], ["eq", "ne"], UUIDS.map(literal)),
    compare(["meta.created", "meta.lastModified"], ORDER_OPS, TIMES.map(literal)),
    st.tuples(TEXT.map(literal), TEXT.map(literal)).map(
        lambda v: f"emails[type eq {v[0]} and value co {v[1]}]"
    ),
)
GROUP_TEXT = ["displayName", "externalId"]
GROUP_LEAF = st.one_of(
    compare(GROUP_TEXT, TEXT_OPS, TEXT.map(literal)),
    st.sampled_from(GROUP_TEXT + ["members"]).map(lambda a: f"{a} pr"),
    compare(["id", "members.value"], ["eq", "ne"], UUIDS.map(literal)),
    UUIDS.map(lambda u: f'members[value eq "{u}"]'),
    compare(["meta.created", "meta.lastModified"], ORDER_OPS, TIMES.map(literal)),
)

schemathesis.openapi.format("scim-user-filter", filters(USER_LEAF))
schemathesis.openapi.format("scim-group-filter", filters(GROUP_LEAF))


VALID_WAIT = re.compile(r"([0-9]|[1-5][0-9]|60)s?")


@schemathesis.hook
def map_query(ctx, query):
    """A4: a valid long-poll wait becomes 0, so each request answers at once."""
    if query and isinstance(query.get("wait"), str) and VALID_WAIT.fullmatch(query["wait"]):
        query["wait"] = "0"
    return query
