"""Contact addresses as each country writes them (issue 14), by Google's address data: real addresses
of 19 countries (those of the vendors' customers in the seeds, Germany, France and Indonesia, among
them), valid and invalid; subdivisions by local and Latin name; the fields, their order and names
of each country's form; the address shown as the country writes it. Without a database."""
from __future__ import annotations

import socket
from types import SimpleNamespace

import pytest

from models import RuleViolation
from models.contact import address_form, clean_address, postal_address

# (country, fields as typed, what is stored where it differs from what was typed)
VALID = [
    ("DE", dict(address="Willy-Brandt-Straße 1", city="Berlin", postal_code="10557"), {}),
    ("FR", dict(address="55 Rue du Faubourg Saint-Honoré", city="Paris", postal_code="75008"), {}),
    ("FR", dict(address="55 Rue du Faubourg Saint-Honoré", city="Paris", postal_code="75 008"), {}),
    ("ID", dict(address="Jl. Medan Merdeka Utara No. 3", city="Jakarta Pusat", subdivision="DKI Jakarta",
                postal_code="10110"), {}),
    ("ID", dict(address="Jl. Diponegoro No. 22", city="Bandung", subdivision="jawa barat", postal_code="40115"),
     {"subdivision": "Jawa Barat"}),
    ("ID", dict(address="Jl. Malioboro No. 16", city="Yogyakarta", subdivision="Daerah Istimewa Yogyakarta"), {}),
    ("CH", dict(address="Bundesplatz 3", city="Bern", postal_code="3005"), {}),
    ("AT", dict(address="Ballhausplatz 2", city="Wien", postal_code="1010"), {}),
    ("US", dict(address="1600 Pennsylvania Avenue NW", city="Washington", subdivision="DC", postal_code="20500"), {}),
    ("US", dict(address="1600 Amphitheatre Pkwy", address_line2="Building 40", city="Mountain View",
                subdivision="California", postal_code="94043-1351"), {"subdivision": "CA"}),
    ("GB", dict(address="10 Downing Street", city="London", postal_code="sw1a 2aa"), {"postal_code": "SW1A 2AA"}),
    ("JP", dict(address="千代田区千代田1-1", subdivision="東京都", postal_code="100-8111"), {}),
    ("JP", dict(address="1-1 Chiyoda, Chiyoda-ku", subdivision="Tokyo", postal_code="1008111"),
     {"subdivision": "東京都"}),
    ("JP", dict(address="北区梅田1-1", subdivision="Osaka", postal_code="530-0001"), {"subdivision": "大阪府"}),
    ("CN", dict(address="景山前街4号", city="东城区", subdivision="北京市", postal_code="100009"), {}),
    ("CN", dict(address="Tianhe Road 385", city_area="Tianhe Qu", city="Guangzhou Shi", subdivision="Guangdong Sheng",
                postal_code="510620"), {"city_area": "天河区", "city": "广州市", "subdivision": "广东省"}),
    ("IN", dict(address="Rashtrapati Bhavan", city="New Delhi", subdivision="Delhi", postal_code="110004"), {}),
    ("IN", dict(address="Gateway of India, Apollo Bandar, Colaba", city="Mumbai", subdivision="महाराष्ट्र",
                postal_code="400001"), {"subdivision": "Maharashtra"}),
    ("BR", dict(address="Praça dos Três Poderes", city="Brasília", subdivision="Distrito Federal",
                postal_code="70150-900"), {"subdivision": "DF"}),
    ("BR", dict(address="Avenida Paulista, 1578", city_area="Bela Vista", city="São Paulo", subdivision="SP",
                postal_code="01310-200"), {}),
    ("CA", dict(address="24 Sussex Drive", city="Ottawa", subdivision="Ontario", postal_code="K1M 1M4"),
     {"subdivision": "ON"}),
    ("CA", dict(address="1 rue des Carrières", city="Québec", subdivision="Québec", postal_code="G1R 4S9"),
     {"subdivision": "QC"}),
    ("AU", dict(address="Parliament House", city="Canberra", subdivision="ACT", postal_code="2600"), {}),
    ("AU", dict(address="Bennelong Point", city="Sydney", subdivision="New South Wales", postal_code="2000"),
     {"subdivision": "NSW"}),
    ("NL", dict(address="Binnenhof 1", city="Den Haag", postal_code="2513 AA"), {}),
    ("IT", dict(address="Piazza del Quirinale", city="Roma", subdivision="Roma", postal_code="00187"),
     {"subdivision": "RM"}),
    ("ES", dict(address="Plaza de la Villa, 5", city="Madrid", subdivision="Madrid", postal_code="28005"),
     {"subdivision": "M"}),
    ("SG", dict(address="1 Fullerton Square", postal_code="049178"), {}),
    ("KR", dict(address="청와대로 1", city="종로구", subdivision="서울특별시", postal_code="03048"), {}),
]

# (country, fields, the field refused, words of its message)
INVALID = [
    ("DE", dict(address="Willy-Brandt-Straße 1", city="Berlin", postal_code="1055"), "postal_code",
     "Enter the postal code as it is written in Germany, e.g. 26133."),
    ("DE", dict(address="Willy-Brandt-Straße 1", postal_code="10557"), "city", "This field is required."),
    ("FR", dict(address="55 Rue du Faubourg Saint-Honoré", city="Paris", postal_code="7500"), "postal_code",
     "as it is written in France"),
    ("ID", dict(address="Jl. Diponegoro No. 22", city="Bandung", postal_code="40115"), "subdivision",
     "This field is required."),
    ("ID", dict(address="Jl. Diponegoro No. 22", city="Bandung", subdivision="Bavaria", postal_code="40115"),
     "subdivision", "the post of Indonesia does not know this one"),
    ("ID", dict(address="Jl. Diponegoro No. 22", city="Bandung", subdivision="Jawa Barat", postal_code="4011"),
     "postal_code", "as it is written in Indonesia"),
    ("CH", dict(address="Bundesplatz 3", city="Bern", postal_code="30050"), "postal_code",
     "as it is written in Switzerland, e.g."),
    ("AT", dict(address="Ballhausplatz 2", city="Wien", postal_code="A-1010"), "postal_code",
     "as it is written in Austria"),
    ("US", dict(address="1600 Pennsylvania Avenue NW", city="Washington", postal_code="20500"), "subdivision",
     "This field is required."),
    ("US", dict(address="1600 Pennsylvania Avenue NW", city="Washington", subdivision="DC", postal_code="2050"),
     "postal_code", "Enter the ZIP code as it is written in United States"),
    # A ZIP code of the right form, but of another state.
    ("US", dict(address="1600 Pennsylvania Avenue NW", city="Washington", subdivision="CA", postal_code="20500"),
     "postal_code", "This code is not one of California"),
    ("GB", dict(address="10 Downing Street", city="London", postal_code="12345"), "postal_code",
     "as it is written in United Kingdom, e.g. EC1Y 8SY."),
    ("JP", dict(address="千代田区千代田1-1", postal_code="100-8111"), "subdivision", "This field is required."),
    ("JP", dict(address="北区梅田1-1", subdivision="大阪府", postal_code="100-8111"), "postal_code",
     "This code is not one of 大阪府 / Osaka"),
    ("JP", dict(address="千代田区千代田1-1", subdivision="Kyoto-fu-x", postal_code="100-8111"), "subdivision",
     "does not know this one"),
    ("CN", dict(address="景山前街4号", city="东城区", subdivision="Bavaria", postal_code="100009"), "subdivision",
     "the post of China does not know this one"),
    ("CN", dict(address="天河路385号", city="Atlantis", subdivision="广东省", postal_code="510620"), "city",
     "does not know this place"),
    ("IN", dict(address="Rashtrapati Bhavan", city="New Delhi", subdivision="Delhi", postal_code="11000"),
     "postal_code", "Enter the PIN code as it is written in India"),
    ("IN", dict(address="Rashtrapati Bhavan", city="New Delhi", subdivision="Maharashtra", postal_code="110004"),
     "postal_code", "This code is not one of Maharashtra"),
    ("BR", dict(address="Praça dos Três Poderes", city="Brasília", postal_code="70150-900"), "subdivision",
     "This field is required."),
    ("BR", dict(address="Praça dos Três Poderes", city="Brasília", subdivision="DF", postal_code="7015-900"),
     "postal_code", "as it is written in Brazil"),
    ("CA", dict(address="24 Sussex Drive", city="Ottawa", subdivision="ON", postal_code="V6B 1A1"), "postal_code",
     "This code is not one of Ontario"),
    ("CA", dict(address="24 Sussex Drive", city="Ottawa", subdivision="Texas", postal_code="K1M 1M4"),
     "subdivision", "the post of Canada does not know this one"),
    ("AU", dict(address="Bennelong Point", city="Sydney", subdivision="NSW", postal_code="3000"), "postal_code",
     "This code is not one of New South Wales"),
    ("NL", dict(address="Binnenhof 1", city="Den Haag", postal_code="2513 SA"), "postal_code",
     "as it is written in Netherlands, e.g. 1234 AB."),
    ("IT", dict(address="Piazza del Quirinale", city="Roma", postal_code="00187"), "subdivision",
     "This field is required."),
    ("ES", dict(address="Plaza de la Villa, 5", city="Madrid", subdivision="Madrid", postal_code="08001"),
     "postal_code", "This code is not one of Madrid"),
    ("SG", dict(address="1 Fullerton Square", postal_code="04917"), "postal_code", "as it is written in Singapore"),
    ("SG", dict(address="", postal_code="049178"), "address", "This field is required."),
]


def test_the_tables_hold_real_addresses_of_at_least_15_countries_the_seeds_among_them():
    countries = {country for country, *_rest in VALID} & {country for country, *_rest in INVALID}
    assert len(countries) >= 15
    assert {"DE", "FR", "ID", "CH", "AT", "US", "GB", "JP", "CN", "IN", "BR", "CA", "AU", "NL", "IT", "ES",
            "SG"} <= countries


@pytest.mark.parametrize("country, fields, stored", VALID, ids=[f"{c}-{f['address'][:20]}" for c, f, _s in VALID])
def test_a_real_address_is_accepted_and_kept_normalised(country, fields, stored):
    cleaned = clean_address(country, fields)
    expected = {name: "" for name in cleaned}
    expected.update({name: value for name, value in fields.items()}, **stored)
    assert cleaned == expected


@pytest.mark.parametrize("country, fields, field, message", INVALID,
                         ids=[f"{c}-{f}-{m[:25]}" for c, _x, f, m in INVALID])
def test_an_invalid_address_is_refused_on_its_field_with_a_clear_message(country, fields, field, message):
    with pytest.raises(RuleViolation) as caught:
        clean_address(country, fields)
    assert caught.value.field == field
    assert message in str(caught.value.message)


@pytest.mark.parametrize("country, subdivision", [("DE", "Berlin"), ("DE", "DE-BE"), ("FR", "Île-de-France"),
                                                  ("GB", "England"), ("NL", "Zuid-Holland"), ("SG", "Central")])
def test_a_subdivision_where_the_country_writes_none_is_dropped(country, subdivision):
    address = {"DE": dict(address="Willy-Brandt-Straße 1", city="Berlin", postal_code="10557"),
               "FR": dict(address="55 Rue du Faubourg Saint-Honoré", city="Paris", postal_code="75008"),
               "GB": dict(address="10 Downing Street", city="London", postal_code="SW1A 2AA"),
               "NL": dict(address="Binnenhof 1", city="Den Haag", postal_code="2513 AA"),
               "SG": dict(address="1 Fullerton Square", postal_code="049178")}[country]
    assert clean_address(country, {**address, "subdivision": subdivision})["subdivision"] == ""


@pytest.mark.parametrize("country, names, key", [
    ("JP", ["東京都", "Tokyo", "tokyo", "JP-13"], "東京都"),
    ("JP", ["北海道", "Hokkaido", "JP-01"], "北海道"),
    ("CN", ["广东省", "Guangdong Sheng", "guangdong sheng", "CN-GD", "CN-44"], "广东省"),
    ("KR", ["서울특별시", "Seoul"], "서울특별시"),
    ("IN", ["Tamil Nadu", "तमिल नाडु", "IN-TN"], "Tamil Nadu"),
    ("CA", ["Québec", "Quebec", "QC", "CA-QC"], "QC"),
    ("ES", ["Álava", "Araba", "alava", "VI"], "VI"),
])
def test_a_subdivision_is_known_by_its_local_and_its_latin_name(country, names, key):
    form = address_form(country)
    [subdivision] = [field for line in form for field in line if field.name == "subdivision"]
    assert key in dict(subdivision.choices)
    for name in names:
        assert [f.value for line in address_form(country, {"subdivision": name}) for f in line
                if f.name == "subdivision"] == [key], name


def labels(country: str) -> list[tuple[str, str, bool]]:
    return [(field.name, str(field.label), field.required) for line in address_form(country) for field in line]


@pytest.mark.parametrize("country, expected", [
    ("DE", [("address", "Address", True), ("address_line2", "Address, second line", False),
            ("postal_code", "Postal code", True), ("city", "City", True)]),
    ("US", [("address", "Address", True), ("address_line2", "Address, second line", False),
            ("city", "City", True), ("subdivision", "State", True), ("postal_code", "ZIP code", True)]),
    ("JP", [("postal_code", "Postal code", True), ("subdivision", "Prefecture", True),
            ("address", "Address", True), ("address_line2", "Address, second line", False)]),
    ("ID", [("address", "Address", True), ("address_line2", "Address, second line", False),
            ("city", "City", False), ("subdivision", "Province", True), ("postal_code", "Postal code", False)]),
    ("IN", [("address", "Address", True), ("address_line2", "Address, second line", False),
            ("city", "City", True), ("postal_code", "PIN code", True), ("subdivision", "State", True)]),
    ("BR", [("address", "Address", True), ("address_line2", "Address, second line", False),
            ("city_area", "Neighborhood", False), ("city", "City", True), ("subdivision", "State", True),
            ("postal_code", "Postal code", True)]),
    ("IE", [("address", "Address", True), ("address_line2", "Address, second line", False),
            ("city_area", "Townland", False), ("city", "City", True), ("subdivision", "County", False),
            ("postal_code", "Eircode", False)]),
    ("GB", [("address", "Address", True), ("address_line2", "Address, second line", False),
            ("city", "Post town", True), ("postal_code", "Postal code", True)]),
])
def test_the_form_has_the_fields_of_the_country_in_its_order_with_its_names(country, expected):
    assert labels(country) == expected


def contact(country, **fields):
    base = dict(country=country, address="", address_line2="", city="", city_area="", subdivision="",
                postal_code="", sorting_code="")
    return SimpleNamespace(**{**base, **fields})


@pytest.mark.parametrize("record, lines, latin", [
    (contact("DE", address="Willy-Brandt-Straße 1", city="Berlin", postal_code="10557"),
     ["Willy-Brandt-Straße 1", "10557 BERLIN", "Germany"], None),
    (contact("US", address="1600 Amphitheatre Pkwy", address_line2="Building 40", city="Mountain View",
             subdivision="CA", postal_code="94043"),
     ["1600 Amphitheatre Pkwy", "Building 40", "MOUNTAIN VIEW, CA 94043", "United States"], None),
    (contact("ID", address="Jl. Diponegoro No. 22", city="Bandung", subdivision="Jawa Barat", postal_code="40115"),
     ["Jl. Diponegoro No. 22", "BANDUNG", "Jawa Barat 40115", "Indonesia"], None),
    (contact("JP", address="千代田区千代田1-1", subdivision="東京都", postal_code="100-8111"),
     ["〒100-8111", "東京都", "千代田区千代田1-1", "Japan"], ["千代田区千代田1-1, TOKYO", "100-8111", "Japan"]),
    # A row saved before the address data: its ISO 3166-2 code is understood.
    (contact("JP", address="千代田区千代田1-1", subdivision="JP-13", postal_code="100-8111"),
     ["〒100-8111", "東京都", "千代田区千代田1-1", "Japan"], ["千代田区千代田1-1, TOKYO", "100-8111", "Japan"]),
    (contact("FR", address="55 Rue du Faubourg Saint-Honoré", city="Paris", postal_code="75008"),
     ["55 Rue du Faubourg Saint-Honoré", "75008 PARIS", "France"], None),
])
def test_an_address_is_shown_as_its_country_writes_it(record, lines, latin):
    assert postal_address(record) == {"lines": lines, "latin": latin}


def test_the_address_data_is_read_from_the_installed_package_without_the_network(monkeypatch):
    def refuse(*_args, **_kwargs):
        raise AssertionError("no network call expected")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    assert clean_address("NZ", dict(address="1 Parliament Street", city="Wellington", postal_code="6011"))
    with pytest.raises(RuleViolation):
        clean_address("NZ", dict(address="1 Parliament Street", city="Wellington", postal_code="60110"))
