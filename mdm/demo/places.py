"""The vocabulary's cities flattened into one table, and country indices used by name."""

from __future__ import annotations

import numpy as np

from mdm.demo.vocabulary import COUNTRIES, City

# Flattened city table: per-country lists would need a loop per lookup.
CITIES: tuple[City, ...] = tuple(city for country in COUNTRIES for city in country.cities)
CITY_COUNTRY = np.array([i for i, c in enumerate(COUNTRIES) for _ in c.cities], dtype=np.int64)
CITY_START = np.cumsum([0, *(len(c.cities) for c in COUNTRIES)])[:-1]
SUBSCRIBER_DIGITS = np.array([city.subscriber_digits for city in CITIES], dtype=np.int64)
GERMANY = next(i for i, c in enumerate(COUNTRIES) if c.code == "DE")
US = next(i for i, c in enumerate(COUNTRIES) if c.code == "US")
# How often each country's organisations occur, as probabilities.
COUNTRY_WEIGHTS = np.array([c.weight for c in COUNTRIES]) / sum(c.weight for c in COUNTRIES)
