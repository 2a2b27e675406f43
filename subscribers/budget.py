"""How many code SMS the public may make the city pay for: one budget per phone, per client address and per
network, shared by every public endpoint that texts a code, under the global hourly cap.

The counters live in Redis (shared by all web processes) in fixed windows. All of them are checked and
counted in one script, so a request refused by any budget takes nothing from the others: a stranger who
asks for codes to your number from a foreign network cannot use up your own share, and a refused request
(a foreign number, a bad address, a spent budget) costs nobody anything.
"""

from __future__ import annotations

import ipaddress
import math
import time
from dataclasses import dataclass

from limits import parse_many
from redis import Redis

from subscribers.exceptions import CodeLimitReached, VerificationUnavailable
from syrena_core.config import SubscriberSettings

PREFIX = "syrena:verification-sms"
# The global cap's window: an hour, as the setting's name says.
CAP_WINDOW = 3600

# KEYS: the counters of this request's windows; ARGV: per key, its limit then its expiry in seconds.
# Returns 0 when every counter had room (all counted), else the 1-based index of the first that had none
# (nothing counted). One script, so two processes cannot both take the last code of a budget.
_TAKE = """
for i, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') >= tonumber(ARGV[2 * i - 1]) then
    return i
  end
end
for i, key in ipairs(KEYS) do
  redis.call('INCR', key)
  redis.call('EXPIRE', key, ARGV[2 * i])
end
return 0
"""

# Where a resident turns when the code SMS are spent: a keyword to the city's number, paid by the sender.
KEYWORD_FOR = {"subscribe": "ZAPISZ", "unsubscribe": "WYPISZ", "export": "DANE"}
_CAP_TEXTS = {
    "pl": (
        "W tej chwili wysyłamy za dużo kodów SMS. Wyślij SMS o treści {example} na numer {number} - to działa zawsze."
    ),
    "en": ("Too many codes are being sent right now. Text {example} to {number} instead - that always works."),
    "uk": "Зараз надсилається забагато SMS-кодів. Надішліть SMS {example} на номер {number} - це працює завжди.",
}
_EXAMPLES = {
    "ZAPISZ": {
        "pl": "ZAPISZ i adres, np. ZAPISZ Głogowska 10,",
        "en": "ZAPISZ and your address, e.g. ZAPISZ Glogowska 10,",
        "uk": "ПІДПИСКА та адресу, напр. ПІДПИСКА Głogowska 10,",
    },
    "WYPISZ": {"pl": "WYPISZ", "en": "WYPISZ (or STOP)", "uk": "СТОП"},
    "DANE": {"pl": "DANE", "en": "DANE (or STATUS)", "uk": "ДАНІ"},
}


def client_networks(address: str | None) -> tuple[str, str]:
    """The client's own budget key and its network's: an IPv4 address and its /24; an IPv6 client is
    its /64 (one household or phone gets a whole /64) and its network the /56 around it."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return f"other:{address or '?'}", f"other:{address or '?'}"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.version == 4:
        return str(ip), str(ipaddress.ip_network(f"{ip}/24", strict=False))
    return (str(ipaddress.ip_network(f"{ip}/64", strict=False)), str(ipaddress.ip_network(f"{ip}/56", strict=False)))


def cap_key(at: float) -> str:
    return f"{PREFIX}:cap:{int(at) // CAP_WINDOW}"


# The refusal of a spent budget, in the request's language (the page shows it as it is).
_LIMIT_TEXTS = {
    "pl": {
        "phone": "Wysłaliśmy już za dużo kodów na ten numer",
        "address": "Z tego adresu IP poproszono już o za dużo kodów",
        "network": "Z tej sieci poproszono już o za dużo kodów",
        "retry": "{what}. Spróbuj ponownie za {minutes} min.",
    },
    "en": {
        "phone": "Too many codes have been sent to this phone number",
        "address": "Too many codes have been asked for from your address",
        "network": "Too many codes have been asked for from your network",
        "retry": "{what} for now. Try again in {minutes} min.",
    },
    "uk": {
        "phone": "На цей номер уже надіслано забагато кодів",
        "address": "З цієї IP-адреси вже запитано забагато кодів",
        "network": "З цієї мережі вже запитано забагато кодів",
        "retry": "{what}. Спробуйте ще раз через {minutes} хв.",
    },
}


@dataclass(frozen=True)
class _Counter:
    key: str
    limit: int
    window: int  # seconds
    what: str  # whose budget: "phone", "address", "network" ("" for the global cap)


class CodeBudget:
    """Checks and counts one code SMS against every budget it falls under (`take`)."""

    def __init__(self, redis: Redis, settings: SubscriberSettings, short_number: str):
        self.redis, self.settings, self.short_number = redis, settings, short_number
        self._take = redis.register_script(_TAKE)

    def _counters(self, kind: str, who: str, limits: str, what: str, now: float) -> list[_Counter]:
        counters = []
        for item in parse_many(limits):
            window = item.get_expiry()
            counters.append(
                _Counter(
                    f"{PREFIX}:{kind}:{who}:{item.amount}/{window}:{int(now) // window}", item.amount, window, what
                )
            )
        return counters

    def take(
        self, phone: str, client_address: str | None, purpose: str, language: str, now: float | None = None
    ) -> None:
        """Count one code SMS to `phone` asked from `client_address`, or refuse it and count nothing:
        CodeLimitReached (a budget of the phone, address or network) or VerificationUnavailable (the
        global hourly cap, with the SMS keyword to use instead)."""
        now = time.time() if now is None else now
        own, network = client_networks(client_address)
        s = self.settings
        counters = (
            self._counters("phone", phone, s.phone_limit, "phone", now)
            + self._counters("ip", own, s.form_limit, "address", now)
            + self._counters("net", network, s.network_limit, "network", now)
            + [_Counter(cap_key(now), s.verification_sms_per_hour, CAP_WINDOW, "")]
        )
        args: list[int] = []
        for c in counters:
            args += [c.limit, c.window + 60]
        full = int(self._take(keys=[c.key for c in counters], args=args))
        if full == 0:
            return
        refused = counters[full - 1]
        retry_after = max(1, math.ceil(refused.window - now % refused.window))
        if full == len(counters):
            raise self.cap_reached(purpose, language, retry_after)
        texts = _LIMIT_TEXTS[language if language in _LIMIT_TEXTS else "en"]
        raise CodeLimitReached(
            texts["retry"].format(what=texts[refused.what], minutes=math.ceil(retry_after / 60)),
            refused.what,
            retry_after,
        )

    def cap_reached(self, purpose: str, language: str, retry_after: int) -> VerificationUnavailable:
        keyword = KEYWORD_FOR.get(purpose, "ZAPISZ")
        language = language if language in _CAP_TEXTS else "en"
        text = _CAP_TEXTS[language].format(example=_EXAMPLES[keyword][language], number=self.short_number)
        return VerificationUnavailable(
            text, {"sms_keyword": keyword, "short_number": self.short_number, "retry_after": retry_after}
        )
