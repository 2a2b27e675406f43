"""What can go wrong with an official warning source: each is logged and shown on the source's status line,
never a crash and never a draft."""

from __future__ import annotations


class FeedError(ValueError):
    """A source could not be read, or a document from it was refused. `kind` is the status line's short word."""

    kind = "error"


class FeedDown(FeedError):
    kind = "down"


class FeedSlow(FeedError):
    kind = "slow"


class FeedTooLarge(FeedError):
    kind = "too_large"


class NotXml(FeedError):
    kind = "not_xml"


class EntityExpansion(FeedError):
    """A DTD declaring entities (the billion-laughs attack): refused before anything is expanded."""

    kind = "billion_laughs"


class ExternalEntity(FeedError):
    """An external entity or DTD (XXE): refused, nothing is fetched or read from disk."""

    kind = "xxe"


class NotCap(FeedError):
    kind = "schema"


class AreaTooComplex(FeedError):
    kind = "too_many_points"


class FeedSourceUnknown(FeedError):
    kind = "unknown_source"


class AreaOutside(FeedError):
    """Not raised: noted on the status line when an alert's area touches none of the city's live zones."""

    kind = "outside"
