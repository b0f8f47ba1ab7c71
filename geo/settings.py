"""Analysis defaults, documented with their sources.

These are constants read at call time (``settings.H3_RESOLUTION``), so a city deployment or a test can
override them by assigning to the module attribute, or per call through keyword arguments.
Deployment configuration (database URL, upload limits, secret key) does not live here: it is Flask
configuration in ``webmap``.
"""
from __future__ import annotations

#: Time zone assumed for timestamps written without a zone (WIB, UTC+7: Sumatra, Java, West and
#: Central Kalimantan).  Use ``Asia/Makassar`` (WITA) or ``Asia/Jayapura`` (WIT) for cities there.
DEFAULT_TIMEZONE = "Asia/Jakarta"

#: H3 resolution of the cell id stored with every measurement.  Resolution 9 cells are about
#: 0.1 km2 (edge ~174 m), fine enough for a kelurahan and coarse enough to collect several samples.
H3_RESOLUTION = 9

#: Points that fall in a gap between kelurahan polygons (the sliver gaps of simplified boundary
#: files) are given to the nearest kelurahan if it is at most this far away, in metres.
SLIVER_TOLERANCE_M = 50.0

#: Physically plausible signal ranges in dBm per technology (3GPP reporting ranges; see
#: shared DOMAIN notes).  Values outside are app sentinels ("unknown"), not measurements.
#: 4G/5G: RSRP, 3G: RSCP, 2G: RSSI.
SIGNAL_RANGE_DBM: dict[str, tuple[float, float]] = {
    "5G": (-140.0, -44.0),
    "4G": (-140.0, -44.0),
    "3G": (-120.0, -25.0),
    "2G": (-113.0, -51.0),
}

#: Sentinel values apps write for "unknown" (G-NetTrack: -24 for 3G, -200, -340, ...).  They are
#: rejected with this explicit reason even where they would fall inside a plausible range.
SIGNAL_SENTINELS_DBM: dict[str, frozenset[float]] = {
    "5G": frozenset({-200.0, -340.0, 0.0}),
    "4G": frozenset({-200.0, -340.0, 0.0}),
    "3G": frozenset({-24.0, -200.0, -340.0, 0.0}),
    "2G": frozenset({-200.0, -340.0, 0.0}),
}

#: A timestamp more than this many seconds after "now" is rejected as being in the future
#: (a small allowance for phone clocks that run ahead).
FUTURE_TOLERANCE_S = 300

#: Largest measurement file accepted, in bytes (the web layer may set a smaller limit).
MAX_UPLOAD_BYTES = 512 * 1024 * 1024

#: A measurement file up to this size, in bytes, is read into memory once (archived, hashed and
#: parsed from that copy: the fastest way); a larger one is archived, hashed and parsed from the
#: file on disk a block or a part at a time, so the memory an ingest needs does not grow with the
#: file (issue 14: any file up to :data:`MAX_UPLOAD_BYTES` in at most 1 GB).
INGEST_IN_MEMORY_MAX_BYTES = 64 * 1024 * 1024

#: Largest Ookla open-data tile file, in bytes.  Tile files are read whole (each tile becomes a
#: polygon), about 2 KB of memory per 150-byte row, so a file at :data:`MAX_UPLOAD_BYTES` would
#: need several GB.  A city's extract is small (Kota Depok, 2022 Q3: 621 tiles, 188 kB; a
#: 2,000 km2 city has at most ~6,000 zoom-16 tiles, ~1 MB): a larger file is a province or the
#: world and is refused with a message asking for the city's tiles only (issue 14: any upload
#: in at most 1 GB of memory).  City policy, not regulation.
OOKLA_MAX_BYTES = 32 * 1024 * 1024

#: A file is rejected as "latitude and longitude swapped" when fewer than this share of its rows
#: fall inside the city but at least this share would fall inside with the two columns exchanged.
SWAPPED_COORDINATE_SHARE = 0.5

#: Rows per database chunk during ingest (progress is reported per chunk; the whole file is still
#: one transaction).
INGEST_CHUNK_ROWS = 100_000

#: Longest operator name and device id a measurement row may carry, in characters: the sizes
#: of the ``measurement.operator`` and ``measurement.device_id`` columns.  A longer value rejects
#: its row (with a reason), the same on SQLite and PostgreSQL.  (Technology is stored as "2G" to
#: "5G" and the kelurahan and H3 cell are computed, so no other text of a file reaches a column.)
MAX_OPERATOR_CHARS = 60
MAX_DEVICE_ID_CHARS = 80

#: The same for facility files (``facility.nama``, ``.operator`` and ``.external_id``, e.g. an
#: OpenCelliD cell id): a longer value rejects its facility row.
MAX_FACILITY_NAME_CHARS = 200
MAX_FACILITY_OPERATOR_CHARS = 80
MAX_FACILITY_EXTERNAL_ID_CHARS = 120

#: What an upload's stored report keeps of its rejected rows (the rejected-rows CSV beside the
#: archived file has every one): the first rows' problems as examples, at most this many per
#: reason and in all; each example value cut to this many characters; at most this many
#: distinct reasons counted by name (the rest together).  Keeps a report under 1 MB whatever
#: the file.
REJECTED_EXAMPLES_PER_REASON = 100
REJECTED_EXAMPLES_TOTAL = 1000
REJECTED_EXAMPLE_VALUE_CHARS = 200
REJECTED_REASONS_COUNTED = 100


# --- coverage analysis: signal classes, cell status, evidence rules (issue #3) ------------------
# Read at call time by ``geo.coverage`` and ``geo.population``; a city overrides the signal
# classes and status shares per deployment with :func:`thresholds_from_config`.

from collections.abc import Mapping  # noqa: E402  (kept with the section that uses it)
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

#: Names of the signal classes, best first; an observation with no service is "no_coverage".
SIGNAL_CLASS_NAMES: tuple[str, ...] = ("very_good", "good", "fair", "weak", "no_coverage")

#: Lower bounds (dBm, inclusive) of the classes very good, good, fair and weak per technology;
#: below the last bound there is no usable coverage.  4G/5G: RSRP (5G NR SS-RSRP uses the same
#: classes), 3G: RSCP, 2G: RSSI.  Source: the common industry drive-test classes quoted in the
#: shared DOMAIN notes (the same bands as operator and app "signal bars" guidance), within the
#: measurement reporting ranges of 3GPP TS 36.133 (RSRP -140..-44 dBm) and TS 25.133 (RSCP
#: -120..-25 dBm).  Example: RSRP -95 dBm is "fair", -120 dBm "weak", -121 dBm "no_coverage".
SIGNAL_CLASSES_DBM: dict[str, tuple[float, float, float, float]] = {
    "5G": (-80.0, -90.0, -100.0, -120.0),
    "4G": (-80.0, -90.0, -100.0, -120.0),
    "3G": (-75.0, -85.0, -95.0, -110.0),
    "2G": (-70.0, -85.0, -100.0, -110.0),
}

#: A cell (per operator) with fewer usable observations than this is "unmeasured": no claim is
#: made about it (the FCC map and the German dead-spot map likewise require several tests and
#: warn that an empty hexagon may just be unmeasured).
MIN_SAMPLES_PER_CELL = 3

#: A measured cell is "blank" when at least this share of its evidence is "no coverage": no
#: service, or a signal below the technology's weak bound.
BLANK_SHARE = 0.5

#: A measured cell that is not blank is "weak" when at least this share of its evidence is in the
#: weak class or worse (weak, no coverage, no service); otherwise it is "covered".  With 0.5 this
#: reads "the median observation, counting no service as the worst, is weak or worse".  Each
#: observation is classed with its own technology's bounds, so a cell measured on 2G and 4G is
#: judged consistently (a median of dBm values over mixed technologies would not be).
WEAK_SHARE = 0.5

#: Evidence window in days: the status of a cell (per operator) as of a date rests on its
#: observations made in this many days up to its latest observation on or before that date,
#: extended further back only as far as needed to reach ``MIN_SAMPLES_PER_CELL`` observations.
#: A cell measured blank in March and covered (3 or more readings) in September is blank as of
#: April and covered as of October; one stray reading never overturns older, better supported
#: evidence.
EVIDENCE_WINDOW_DAYS = 90

#: Observations whose position is less accurate than this (metres) are not used as evidence, as in
#: the German dead-spot map (Breitbandmessung Funkloch-App).  A missing accuracy is kept.
MAX_ACCURACY_M = 50.0

#: A kelurahan is "bebas blank spot" only when it has no blank cell and at least this share of its
#: area lies in measured cells.  0.8: a claim reported to the Smart City council should rest on
#: most of the kelurahan, while allowing for swamp, forest and water nobody can measure; a city
#: with large uninhabited kelurahan may lower it.
MIN_MEASURED_SHARE_FOR_QUICK_WIN = 0.8

#: Each raster cell is split into this many x this many sub-cells when summing population over
#: polygons, so that a raster cell cut by a polygon boundary is shared by area (error below about
#: 1/SUPERSAMPLE of a boundary cell's population).
POPULATION_SUPERSAMPLE = 10


@dataclass(frozen=True)
class SignalThresholds:
    """Signal classes and the shares that turn them into a cell status, for one city.

    Build it with :meth:`from_settings` (the module defaults, read when called) or
    :func:`thresholds_from_config` (a city's overrides on top of them).

    Attributes
    ----------
    classes_dbm
        Per technology, the lower bounds in dBm of very good, good, fair and weak (descending).
    blank_share
        Share of no-coverage evidence from which a cell is blank (see ``BLANK_SHARE``).
    weak_share
        Share of weak-or-worse evidence from which a cell is weak (see ``WEAK_SHARE``).
    """

    classes_dbm: Mapping[str, tuple[float, float, float, float]]
    blank_share: float
    weak_share: float

    @classmethod
    def from_settings(cls) -> SignalThresholds:
        """Thresholds from the module constants as they are now."""
        return cls(classes_dbm=dict(SIGNAL_CLASSES_DBM), blank_share=float(BLANK_SHARE),
                   weak_share=float(WEAK_SHARE))


def thresholds_from_config(config: Mapping[str, Any] | None) -> SignalThresholds:
    """Return the defaults with a city's overrides applied.

    Parameters
    ----------
    config
        For example ``{"signal_classes_dbm": {"4G": [-85, -95, -105, -115]}, "blank_share":
        0.6}``.  Keys are case-insensitive (``SIGNAL_CLASSES_DBM`` works too); technologies not
        named keep their defaults.  ``None`` or ``{}`` gives the defaults.

    Returns
    -------
    SignalThresholds
        The thresholds to pass to ``geo.coverage`` functions.

    Raises
    ------
    ValueError
        Listing every problem at once: unknown keys or technologies, bounds that are not four
        numbers in descending order, shares outside (0, 1].
    """
    defaults = SignalThresholds.from_settings()
    config = {str(key).lower(): value for key, value in (config or {}).items()}
    problems = [f"unknown key {key!r} (use signal_classes_dbm, blank_share, weak_share)"
                for key in config if key not in {"signal_classes_dbm", "blank_share", "weak_share"}]
    classes = dict(defaults.classes_dbm)
    overrides = config.get("signal_classes_dbm") or {}
    if not isinstance(overrides, Mapping):
        problems.append(f"signal_classes_dbm must map technology to 4 bounds, not {overrides!r}")
        overrides = {}
    for technology, bounds in overrides.items():
        checked = _checked_bounds(str(technology).upper(), bounds, problems)
        if checked is not None:
            classes[str(technology).upper()] = checked
    shares = {name: _checked_share(name, config.get(name, getattr(defaults, name)), problems)
              for name in ("blank_share", "weak_share")}
    if problems:
        raise ValueError("invalid signal thresholds: " + "; ".join(problems))
    return SignalThresholds(classes_dbm=classes, **shares)


def _checked_bounds(technology: str, bounds: Any, problems: list[str]
                    ) -> tuple[float, float, float, float] | None:
    if technology not in SIGNAL_CLASSES_DBM:
        problems.append(f"unknown technology {technology!r} (use {', '.join(SIGNAL_CLASSES_DBM)})")
        return None
    try:
        values = tuple(float(value) for value in bounds)
    except (TypeError, ValueError):
        values = ()
    if len(values) != 4 or any(a <= b for a, b in zip(values, values[1:], strict=False)):
        problems.append(f"{technology}: bounds {bounds!r} must be 4 numbers in dBm, descending "
                        "(very good, good, fair, weak)")
        return None
    return values  # type: ignore[return-value]


def _checked_share(name: str, value: Any, problems: list[str]) -> float:
    try:
        share = float(value)
    except (TypeError, ValueError):
        share = float("nan")
    if not 0.0 < share <= 1.0:
        problems.append(f"{name} {value!r} must be a share in (0, 1]")
    return share


# --- coverage surface and blank-spot polygons (issue #3) -----------------------------------------

#: Blank-spot polygons smaller than this (m2) are not reported: two 100 m surface cells.  Single
#: isolated cells appear where interpolated signal hovers around the no-coverage bound at the
#: city's weak edges; the cell statistics still show them as blank or weak cells.
BLANK_SPOT_MIN_AREA_M2 = 20_000.0


# --- towers for blank spots (issue #15; read at call time by ``geo.tower_siting``) --------------

#: Service radius of a new tower in metres per technology: a blank cell whose centre lies within it
#: counts as resolved.  Planning figures for a macro site in flat, low-rise terrain like Dumai's
#: coast, not regulation: Okumura-Hata / COST-231 link budgets for a 30-40 m mast give a suburban
#: cell range of roughly 5 km on GSM 900, 2-3 km on UMTS 2100 and LTE 1800, and about 1 km on
#: 5G NR mid-band (n40 2300 MHz, the band Indonesian operators use).  4G uses 3 km: the middle of
#: the LTE 1800 range, and what BAKTI's 4G BTS programme builds.  A city with hills or dense
#: high-rise should lower them (``--radius-m`` overrides per run).
TOWER_RADIUS_M: dict[str, float] = {"2G": 5000.0, "3G": 2500.0, "4G": 3000.0, "5G": 1000.0}

#: Technology whose radius applies when a run names none (BAKTI's programme builds 4G BTS).
TOWER_DEFAULT_TECHNOLOGY = "4G"

#: Side of the square plot a new tower needs, in metres: BAKTI asks the local government for a
#: donated 20 x 20 m plot per 4G BTS (programme requirement quoted in the shared DOMAIN notes).
TOWER_PLOT_SIDE_M = 20.0

#: Spacing of the generated candidate grid in metres.  City policy, not regulation: a third of the
#: 4G radius keeps every point of the city within 707 m (half the diagonal) of a candidate, so the
#: grid optimum is close to that of free placement while a 2,000 km2 city still has only ~2,000
#: candidates.
TOWER_GRID_SPACING_M = 1000.0

#: Facility types (``geo.facilities.FACILITY_TYPES``) whose grounds can host a mast: the kelurahan
#: office and schools are public land a city can donate (BAKTI's plot requirement).
TOWER_HOST_FACILITY_TYPES: tuple[str, ...] = ("kantor_lurah", "sekolah")

#: Constraint-layer kinds a tower plot must keep clear of, with the clearance in metres between the
#: 20 x 20 m plot and the feature (0: the plot must not touch it).
#:
#: * ``badan_air`` 0 and ``kawasan_lindung`` 0: no building in water or in protected areas
#:   (UU 26/2007 spatial planning; protected-area rules of PP 28/2011).
#: * ``sungai`` 10: the narrowest river border (garis sempadan) for an unembanked urban river
#:   up to 3 m deep, Permen PUPR 28/2015 art. 6 (15 m and 30 m for deeper rivers: raise it where
#:   the river layer holds only large rivers).
#: * ``bandara`` 4000: the radius of the inner horizontal surface of ICAO Annex 14 (45 m above
#:   the aerodrome), which Indonesia's KKOP (aerodrome obstacle limitation area) rules adopt; a
#:   30-40 m mast inside it needs an aviation permit, so the default keeps out.  City policy: a
#:   permit can be sought, so a city may lower it.
TOWER_EXCLUSION_BUFFERS_M: dict[str, float] = {
    "badan_air": 0.0, "kawasan_lindung": 0.0, "sungai": 10.0, "bandara": 4000.0,
}


# --- waste-processing building siting (issue #15; read at call time by ``geo.suitability`` and
# ``geo.waste_siting``).  A city overrides any of these per deployment with
# :func:`siting_rules_from_config`; every default names its source, and says so where it is city
# policy rather than regulation.

#: Hard exclusions of the ``tpst`` rule set (the processing building of Dumai's quick win, a
#: TPST/TPS3R-class building), as ``rule: (layer kind, clearance in metres)``; 0 means "not
#: inside".  A site closer than the clearance to a feature of the layer is excluded.
#:
#: * ``badan_air`` 0, ``kawasan_lindung`` 0: no building in water or protected areas
#:   (UU 26/2007 spatial planning; PP 28/2011 protected areas).
#: * ``rawan_banjir`` 0: not on flood-prone land (SNI 03-3241-1994 excludes 25-year flood land
#:   for a TPA; applied to the processing building as city policy).
#: * ``sungai`` 50: the river border (garis sempadan) of Permen PUPR 28/2015 art. 5-6 is 10-30 m
#:   in urban areas and 50-100 m outside them; 50 m is city policy for a waste building.
#: * ``sumber_air`` 100: SNI 03-3241-1994's distance to drinking-water sources for a TPA, applied
#:   to the processing building as city policy (leachate from stored waste).
TPST_EXCLUSIONS_M: dict[str, tuple[str, float]] = {
    "badan_air": ("badan_air", 0.0), "kawasan_lindung": ("kawasan_lindung", 0.0),
    "rawan_banjir": ("rawan_banjir", 0.0), "sungai": ("sungai", 50.0),
    "sumber_air": ("sumber_air", 100.0),
}

#: Hard exclusions of the ``tpa`` rule set (landfill), SNI 03-3241-1994 regional screening and
#: Bapedal decision 04/1995 distances:
#:
#: * ``bandara_turbojet`` 3000 / ``bandara_lainnya`` 1500: airports used by turbojet aircraft /
#:   other aircraft (SNI 03-3241-1994; birds drawn to a landfill endanger aircraft).  An airport
#:   feature whose ``jenis`` column is not ``lainnya`` counts as turbojet (the safer reading).
#: * ``sungai`` 500, ``badan_air`` 500: permanent rivers and lakes (Bapedal 04/1995).
#: * ``sumber_air`` 100: drinking-water sources (SNI 03-3241-1994).
#: * ``rawan_banjir`` 0, ``kawasan_lindung`` 0: 25-year flood land and protected areas (SNI).
#: * ``permukiman`` 1000: settlements; Permen PU 03/PRT/M/2013 (Lampiran II) asks at least 1 km
#:   between a landfill and the nearest settlement.
TPA_EXCLUSIONS_M: dict[str, tuple[str, float]] = {
    "bandara_turbojet": ("bandara", 3000.0), "bandara_lainnya": ("bandara", 1500.0),
    "sungai": ("sungai", 500.0), "badan_air": ("badan_air", 500.0),
    "sumber_air": ("sumber_air", 100.0), "rawan_banjir": ("rawan_banjir", 0.0),
    "kawasan_lindung": ("kawasan_lindung", 0.0), "permukiman": ("permukiman", 1000.0),
}

#: Longest distance in metres from a site to the nearest road (``jalan`` layer) for trucks to
#: reach it: ``tpst`` 300 m, ``tpa`` 1000 m.  City policy (the length of access road a city is
#: prepared to build), not regulation; ignored when the city has no road layer.
SITING_ROAD_MAX_M: dict[str, float] = {"tpst": 300.0, "tpa": 1000.0}

#: Steepest slope in percent a site may have (checked when a DEM was imported).  ``tpa`` 20:
#: SNI 03-3241-1994 rates land steeper than 20 % unsuitable for a landfill; ``tpst`` 15: city
#: policy (a building pad and truck turning area on flatter ground).
SITING_MAX_SLOPE_PCT: dict[str, float] = {"tpst": 15.0, "tpa": 20.0}

#: Smallest usable plot in square metres.  ``tpst`` 2,000: city policy sized for a MASARO-class
#: 10-30 t/day plant with its sorting hall, storage and truck area (Permen PU 03/PRT/M/2013 asks
#: at least 200 m2 for a neighbourhood TPS3R; a city-scale TPST needs ten times that).  ``tpa``
#: 20,000 (2 ha): city policy, a landfill cell with buffers for a city of ~300,000 people.
SITING_MIN_PLOT_M2: dict[str, float] = {"tpst": 2000.0, "tpa": 20000.0}

#: Soft criteria with their weights (summing to 1) and the distance in metres over which each
#: score runs from 1 to 0 (``near``: 1 at the feature, 0 at the scale and beyond) or from 0 to 1
#: (``far``).  City policy, after the ranking stage of SNI 03-3241-1994 (road access, transport
#: distance from the waste centroid, distance to existing facilities, slope):
#:
#: * ``jalan`` near, 1 km: road access.
#: * ``pusat_sampah`` near, 5 km: the population-weighted centre of the waste generated
#:   (transport distance).
#: * ``fasilitas`` far, 3 km: away from existing TPS3R/TPST/TPA, so a new building serves new
#:   neighbourhoods.
#: * ``lereng`` flat is best, 0 % scores 1 and the rule set's maximum slope scores 0.
#: * ``permukiman`` (``tpa`` only) far, 3 km: nuisance to residents.
SITING_CRITERIA: dict[str, dict[str, tuple[str, float, float]]] = {
    "tpst": {"jalan": ("near", 1000.0, 0.3), "pusat_sampah": ("near", 5000.0, 0.4),
             "fasilitas": ("far", 3000.0, 0.1), "lereng": ("flat", 0.0, 0.2)},
    "tpa": {"jalan": ("near", 2000.0, 0.2), "pusat_sampah": ("near", 10000.0, 0.2),
            "permukiman": ("far", 3000.0, 0.4), "lereng": ("flat", 0.0, 0.2)},
}

#: Capacity of one new processing building in tonnes/day: 30, the MASARO plant Dumai agreed in
#: 2024 (10 t/day since 2022; shared DOMAIN notes).  Rule-set independent; ``--capacity-t-day``.
WASTE_SITE_CAPACITY_T_DAY = 30.0

#: Waste generated per person per day in kg.  The national waste information system (SIPSN,
#: KLHK) reports roughly 0.5-0.7 kg/person/day across regencies and cities; cities sit at the top
#: of that range, so 0.7.  SNI 19-3983-1995 gives volumes instead (2.5-3.5 L/person/day for
#: cities), which at a loose bulk density of ~0.2-0.25 kg/L is the same 0.5-0.9 kg.
WASTE_KG_PER_PERSON_DAY = 0.7

#: Service distance in metres for MCLP and LSCP: a TPS3R/TPST serves a community within a few km
#: (shared DOMAIN notes); 5 km is city policy for a city-scale building.
WASTE_SERVICE_M = 5000.0

#: The sensitivity table solves p = 1..``WASTE_SENSITIVITY_MAX_SITES`` at these multiples of the
#: service distance (half, as given, double).
WASTE_SENSITIVITY_MAX_SITES = 5
WASTE_SENSITIVITY_SERVICE_FACTORS: tuple[float, ...] = (0.5, 1.0, 2.0)

#: Spacing in metres of the candidate plots generated over suitable land (city policy): 500 m
#: keeps a 2,000 km2 city under ~8,000 candidates before exclusions.
WASTE_GRID_SPACING_M = 500.0

#: Generated candidates entering the model: the best-scoring plots of the grid (city policy).
#: The capacitated p-median has a variable per demand point x candidate; 100 candidates keep a
#: city-wide run to seconds, and the score ranking keeps the plots the soft criteria favour.
WASTE_MAX_GENERATED_CANDIDATES = 100

#: Side in metres of the square demand cells a population raster is summed over (city policy:
#: 1 km keeps a 2,000 km2 city under ~2,000 cells; a truck's detour inside a cell is small
#: against a city-scale service distance).
WASTE_DEMAND_CELL_M = 1000.0

#: Level the capacitated p-median's demand points are aggregated to (city policy):
#: ``"kelurahan"`` puts one demand point per kelurahan at its population-weighted centre (the
#: raster's cells summed per kelurahan), the unit planners report in; ``"cell"`` keeps one point
#: per demand cell of ``WASTE_DEMAND_CELL_M``.  The p-median has a binary variable per demand
#: point x site; at ~2,000 cells x ~100 sites a 2,000 km2 city did not solve in 20 minutes, at
#: a few dozen kelurahan it does, and its total-distance objective changes little under such
#: aggregation (a truck's route inside a kelurahan is small against city-scale distances).
#: MCLP and LSCP keep the cells: coverage within a service distance is what aggregation
#: distorts most (a whole kelurahan would count as in or out at once), and they solve at cell
#: level in seconds.
WASTE_DEMAND_AGGREGATION = "kelurahan"
WASTE_DEMAND_LEVELS: tuple[str, ...] = ("kelurahan", "cell")

#: Eligible candidates entering the capacitated p-median: the best-scoring ones (city policy).
#: Single-sourcing with capacities is a hard integer programme; on the 2,000 km2 demo city
#: (35 kelurahan) 100 candidates took ~25 s per solve, and the score ranking keeps the plots the
#: soft criteria favour.  MCLP and LSCP use every eligible candidate.
WASTE_PMEDIAN_MAX_CANDIDATES = 30

#: Seconds HiGHS may spend on one capacitated p-median (city policy: the run and its sensitivity
#: table answer within a minute).  A solution stopped by the limit is reported
#: ``"feasible"`` with its MIP gap, never ``"optimal"``; ``None`` solves to proven optimality.
WASTE_PMEDIAN_TIME_LIMIT_S: float | None = 5.0

#: Pixel size in metres of the suitability score raster and of the slope grid (city policy).
WASTE_SCORE_PIXEL_M = 100.0

#: Facility types (``geo.facilities.FACILITY_TYPES``) that are existing waste sites, kept open in
#: the models with their ``capacity`` (t/day).  Types are the shared DOMAIN notes' list.
WASTE_FACILITY_TYPES: tuple[str, ...] = ("tps", "tps3r", "tpst")

#: Facility types the ``fasilitas`` criterion keeps away from (processing and final sites).
WASTE_PROCESSING_TYPES: tuple[str, ...] = ("tps3r", "tpst", "tpa")

SITING_RULE_SETS: tuple[str, ...] = ("tpst", "tpa")


@dataclass(frozen=True)
class Exclusion:
    """One hard exclusion: features of ``layer`` and the clearance a site keeps from them."""

    rule: str
    layer: str
    buffer_m: float


@dataclass(frozen=True)
class Criterion:
    """One soft criterion: ``direction`` near / far / flat, ``scale_m``, ``weight``."""

    name: str
    direction: str
    scale_m: float
    weight: float


@dataclass(frozen=True)
class SitingRules:
    """The rules of one rule set for one city: exclusions, road reach, slope, plot, criteria."""

    name: str
    exclusions: tuple[Exclusion, ...]
    road_max_m: float
    max_slope_pct: float
    min_plot_m2: float
    criteria: tuple[Criterion, ...]

    def as_dict(self) -> dict[str, Any]:
        """Return the rules as JSON-ready data (what a result says it checked)."""
        return {"name": self.name, "road_max_m": self.road_max_m,
                "max_slope_pct": self.max_slope_pct, "min_plot_m2": self.min_plot_m2,
                "exclusions": [vars(e) for e in self.exclusions],
                "criteria": [vars(c) for c in self.criteria]}


def siting_rules_from_config(name: str, config: Mapping[str, Any] | None = None) -> SitingRules:
    """Return rule set ``name`` (``tpst`` or ``tpa``) with a city's overrides applied.

    Parameters
    ----------
    name
        The rule set.
    config
        Overrides by name, e.g. ``{"exclusions_m": {"sungai": 300}, "road_max_m": 500,
        "max_slope_pct": 10, "min_plot_m2": 1000, "weights": {"jalan": 0.5}}``; rules and
        criteria not named keep their defaults.  ``None`` or ``{}`` gives the defaults.

    Raises
    ------
    ValueError
        Listing every problem at once: unknown rule set, keys, rules or criteria; negative
        distances; weights that are negative or all zero.
    """
    if name not in SITING_RULE_SETS:
        raise ValueError(f"unknown rule set {name!r} (use {' or '.join(SITING_RULE_SETS)})")
    config = {str(key).lower(): value for key, value in (config or {}).items()}
    keys = {"exclusions_m", "road_max_m", "max_slope_pct", "min_plot_m2", "weights"}
    problems = [f"unknown key {key!r} (use {', '.join(sorted(keys))})"
                for key in config if key not in keys]
    defaults = TPST_EXCLUSIONS_M if name == "tpst" else TPA_EXCLUSIONS_M
    buffers = _overridden({rule: m for rule, (_, m) in defaults.items()},
                          config.get("exclusions_m"), "exclusions_m", problems)
    weights = _overridden({c: w for c, (_, _, w) in SITING_CRITERIA[name].items()},
                          config.get("weights"), "weights", problems)
    if weights and sum(weights.values()) <= 0:
        problems.append("weights must not all be zero")
    limits = {key: _non_negative(key, config.get(key, default[name]), problems)
              for key, default in (("road_max_m", SITING_ROAD_MAX_M),
                                   ("max_slope_pct", SITING_MAX_SLOPE_PCT),
                                   ("min_plot_m2", SITING_MIN_PLOT_M2))}
    if problems:
        raise ValueError(f"invalid {name} siting rules: " + "; ".join(problems))
    return SitingRules(
        name=name, exclusions=tuple(Exclusion(rule, defaults[rule][0], buffers[rule])
                                    for rule in defaults),
        criteria=tuple(Criterion(c, d, s, weights[c])
                       for c, (d, s, _) in SITING_CRITERIA[name].items()), **limits)


def _overridden(defaults: dict[str, float], overrides: Any, key: str,
                problems: list[str]) -> dict[str, float]:
    values = dict(defaults)
    if overrides is None:
        return values
    if not isinstance(overrides, Mapping):
        problems.append(f"{key} must map names to numbers, not {overrides!r}")
        return values
    for name, value in overrides.items():
        if name not in defaults:
            problems.append(f"{key}: unknown name {name!r} (use {', '.join(defaults)})")
        else:
            values[name] = _non_negative(f"{key}.{name}", value, problems)
    return values


def _non_negative(name: str, value: Any, problems: list[str]) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not number >= 0:
        problems.append(f"{name} {value!r} must be a number >= 0")
    return number
