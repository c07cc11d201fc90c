//! Schedules and the final timeline: handoffs across DST, restrictions, overrides, and bounds.

use super::*;
use proptest::prelude::*;

fn uid(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn naive(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
}

fn utc(s: &str) -> DateTime<Utc> {
    Utc.from_utc_datetime(&naive(s))
}

fn spec(tz: &str, layers: Vec<Layer>) -> ScheduleSpec {
    ScheduleSpec { name: "Primary".into(), description: String::new(), timezone: tz.into(), team_id: None, layers }
}

fn layer(users: &[u128], start: &str, length: Length) -> Layer {
    Layer {
        name: "L".into(),
        users: users.iter().map(|u| uid(*u)).collect(),
        start: naive(start),
        length,
        handoffs: None,
        restrictions: vec![],
    }
}

#[test]
fn local_times_at_the_end_of_the_calendar_do_not_overflow() {
    // West of UTC the last local minute has no UTC instant; probing forward must stop.
    let t = local_to_utc(chrono_tz::America::New_York, NaiveDateTime::MAX);
    assert_eq!(t.naive_utc(), NaiveDateTime::MAX);
}

#[test]
fn rrule_handoffs_on_mondays_and_thursdays_across_dst() {
    let mut l = layer(&[1, 2], "2026-10-19 09:00", Length::Weeks(1));
    l.handoffs = Some("FREQ=WEEKLY;BYDAY=MO,TH".into());
    let s = spec("Europe/Berlin", vec![l]).validate().unwrap();
    let shifts = timeline(&s, &[], utc("2026-10-19 07:00"), utc("2026-11-02 08:00"));
    let starts: Vec<String> =
        shifts.iter().map(|x| x.start.with_timezone(&s.tz()).format("%a %H:%M").to_string()).collect();
    assert_eq!(starts, vec!["Mon 09:00", "Thu 09:00", "Mon 09:00", "Thu 09:00"]);
    let users: Vec<Uuid> = shifts.iter().map(|x| x.user_id.unwrap()).collect();
    assert_eq!(users, vec![uid(1), uid(2), uid(1), uid(2)]);
    let mut bad = layer(&[1], "2026-10-19 09:00", Length::Days(1));
    bad.handoffs = Some("FREQ=SOMETIMES".into());
    assert!(spec("UTC", vec![bad]).validate().is_err());
}

#[test]
fn weekly_rotation_hands_off_at_local_time_across_dst() {
    // Berlin leaves summer time on 2026-10-25: the week containing it is 169 hours long.
    let s = spec("Europe/Berlin", vec![layer(&[1, 2], "2026-10-19 09:00", Length::Weeks(1))]);
    let shifts = timeline(&s, &[], utc("2026-10-19 07:00"), utc("2026-11-02 08:00"));
    assert_eq!(shifts.len(), 2);
    assert_eq!(shifts[0].user_id, Some(uid(1)));
    assert_eq!(shifts[0].start, utc("2026-10-19 07:00"), "09:00 CEST");
    assert_eq!(shifts[0].end, utc("2026-10-26 08:00"), "09:00 CET");
    assert_eq!((shifts[0].end - shifts[0].start).num_hours(), 169);
    assert_eq!(shifts[1].user_id, Some(uid(2)));
}

#[test]
fn spring_forward_day_is_23_hours() {
    let s = spec("Europe/Berlin", vec![layer(&[1, 2, 3], "2026-03-27 09:00", Length::Days(1))]);
    let shifts = timeline(&s, &[], utc("2026-03-27 08:00"), utc("2026-03-31 07:00"));
    let lens: Vec<i64> = shifts.iter().map(|s| (s.end - s.start).num_hours()).collect();
    assert_eq!(lens, vec![24, 23, 24, 24]);
    assert_eq!(shifts.iter().map(|s| s.user_id.unwrap()).collect::<Vec<_>>(), vec![uid(1), uid(2), uid(3), uid(1)]);
}

#[test]
fn restrictions_leave_gaps_and_higher_layers_override() {
    let mut day = layer(&[9], "2026-11-02 00:00", Length::Weeks(1));
    day.restrictions = vec![Restriction {
        days: vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri],
        start: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
        end: NaiveTime::from_hms_opt(17, 0, 0).unwrap(),
    }];
    let s = spec("UTC", vec![layer(&[1], "2026-11-02 00:00", Length::Days(1)), day]);
    assert_eq!(on_call(&s, &[], utc("2026-11-02 10:00")).map(|w| w.0), Some(uid(9)), "business hours: the upper layer");
    assert_eq!(on_call(&s, &[], utc("2026-11-02 18:00")).map(|w| w.0), Some(uid(1)), "evening: the base layer");
    assert_eq!(on_call(&s, &[], utc("2026-11-07 10:00")).map(|w| w.0), Some(uid(1)), "Saturday: the base layer");
    // Only the restricted layer: evenings are gaps.
    let only = spec("UTC", vec![s.layers[1].clone()]);
    let shifts = timeline(&only, &[], utc("2026-11-02 00:00"), utc("2026-11-03 00:00"));
    assert_eq!(shifts.iter().map(|s| s.user_id).collect::<Vec<_>>(), vec![None, Some(uid(9)), None]);
}

#[test]
fn overnight_restriction() {
    let mut l = layer(&[5], "2026-11-01 00:00", Length::Weeks(1));
    l.restrictions = vec![Restriction {
        days: vec![],
        start: NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
        end: NaiveTime::from_hms_opt(6, 0, 0).unwrap(),
    }];
    let s = spec("UTC", vec![l]);
    assert!(on_call(&s, &[], utc("2026-11-02 23:00")).is_some());
    assert!(on_call(&s, &[], utc("2026-11-03 05:59")).is_some());
    assert!(on_call(&s, &[], utc("2026-11-03 06:00")).is_none());
}

#[test]
fn override_wins_and_before_start_is_a_gap() {
    let s = spec("UTC", vec![layer(&[1, 2], "2026-11-02 09:00", Length::Days(1))]);
    let o = Override { id: uid(77), user_id: uid(3), start: utc("2026-11-03 12:00"), end: utc("2026-11-03 14:00") };
    assert_eq!(on_call(&s, std::slice::from_ref(&o), utc("2026-11-03 13:00")).map(|w| w.0), Some(uid(3)));
    assert_eq!(on_call(&s, &[o], utc("2026-11-03 14:00")).map(|w| w.0), Some(uid(2)));
    assert_eq!(on_call(&s, &[], utc("2026-11-01 00:00")), None);
}

#[test]
fn validation_names_the_field() {
    let bad = spec("Mars/Olympus", vec![]);
    assert!(matches!(bad.validate(), Err(Error::Invalid { field: "timezone", .. })));
    let empty = spec("UTC", vec![layer(&[], "2026-11-02 09:00", Length::Days(1))]);
    assert!(empty.validate().is_err());
    let zero = spec("UTC", vec![layer(&[1], "2026-11-02 09:00", Length::Hours(0))]);
    assert!(zero.validate().is_err());
}

fn arb_length() -> impl Strategy<Value = Length> {
    prop_oneof![(1u32..4).prop_map(Length::Days), (1u32..3).prop_map(Length::Weeks), (1u32..49).prop_map(Length::Hours)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The timeline partitions the range exactly (no overlap, no hole), agrees with
    /// `on_call` everywhere, has nobody missing once a gap-free layer started, and every
    /// override wins inside its range; in a zone with DST.
    #[test]
    fn timeline_partitions_and_agrees(
        users in proptest::collection::vec(1u128..6, 1..5),
        length in arb_length(),
        start_h in 0i64..48,
        from_h in 0i64..24 * 30,
        span_h in 1i64..24 * 20,
        over in proptest::option::of((0i64..24 * 20, 1i64..48, 6u128..9)),
        probes in proptest::collection::vec(0f64..1.0, 1..20),
    ) {
        let base = naive("2026-03-20 00:00");
        let l = Layer { name: "L".into(), users: users.iter().map(|u| uid(*u)).collect(),
            start: base + Duration::hours(start_h), length, handoffs: None, restrictions: vec![] };
        let s = spec("Europe/Berlin", vec![l]);
        let from = utc("2026-03-20 00:00") + Duration::hours(from_h);
        let to = from + Duration::hours(span_h);
        let overrides: Vec<Override> = over.into_iter().map(|(at, len, u)| Override {
            id: uid(1000), user_id: uid(u), start: from + Duration::hours(at),
                end: from + Duration::hours(at + len),
        }).collect();
        let shifts = timeline(&s, &overrides, from, to);
        prop_assert_eq!(shifts.first().unwrap().start, from);
        prop_assert_eq!(shifts.last().unwrap().end, to);
        for w in shifts.windows(2) {
            prop_assert_eq!(w[0].end, w[1].start);
            prop_assert!(w[0].start < w[0].end);
        }
        let layer_start = local_to_utc(s.tz(), s.layers[0].start);
        for p in probes {
            let t = from + Duration::milliseconds(((to - from).num_milliseconds() as f64 * p) as i64);
            let shift = shifts.iter().find(|sh| sh.start <= t && t < sh.end).unwrap();
            let now = on_call(&s, &overrides, t);
            prop_assert_eq!(shift.user_id, now.map(|w| w.0));
            if t >= layer_start {
                prop_assert!(now.is_some(), "a layer without restrictions covers every instant");
            }
            for o in &overrides {
                if o.start <= t && t < o.end {
                    prop_assert_eq!(now.map(|w| w.0), Some(o.user_id));
                }
            }
        }
    }

    /// Day-based rotations hand off at the same local time every time, DST or not, so no
    /// hour is lost or counted twice: shift lengths are whole days ± the DST hour.
    #[test]
    fn day_handoffs_keep_local_time(days in 1u32..4, hour in 0u32..24, from_d in 0i64..60) {
        let start = naive("2026-03-01 00:00") + Duration::hours(i64::from(hour));
        let s = spec("Europe/Berlin", vec![Layer { name: "L".into(), users: vec![uid(1), uid(2), uid(3)], start,
            length: Length::Days(days), handoffs: None, restrictions: vec![] }]);
        let from = utc("2026-03-01 00:00") + Duration::days(from_d);
        let shifts = timeline(&s, &[], from, from + Duration::days(40));
        let tz = s.tz();
        // Every shift that the range does not clip starts at a handoff.
        for sh in shifts.iter().filter(|sh| sh.start > from && sh.end < from + Duration::days(40)) {
            let local = sh.start.with_timezone(&tz).naive_local();
            // A handoff at a time skipped by the spring change moves to 03:00.
            let moved_to_three = hour == 2 && local.time().format("%H:%M").to_string() == "03:00";
            prop_assert!(local.time() == start.time() || moved_to_three);
            let h = (sh.end - sh.start).num_hours();
            let d = 24 * i64::from(days);
            prop_assert!(h == d || h == d - 1 || h == d + 1, "shift of {} h", h);
        }
    }

    /// Any layer (start anywhere in chrono's range, any length, an RRULE or none) and any
    /// instant: `on_call` and `timeline` answer without a panic, in bounded time.
    #[test]
    fn any_layer_at_any_time_answers(
        start_s in i64::MIN / 4..i64::MAX / 4,
        at_s in (YEAR_MIN_S..YEAR_MAX_S),
        length in arb_length(),
        handoffs in proptest::option::of(prop::sample::select(vec![
            "FREQ=DAILY;BYHOUR=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23",
            "FREQ=WEEKLY;BYDAY=MO,TH", "FREQ=MINUTELY", "FREQ=SECONDLY", "FREQ=DAILY;UNTIL=19800101T000000Z",
        ])),
    ) {
        let start = DateTime::from_timestamp(start_s / 1_000_000, 0).map(|d| d.naive_utc()).unwrap_or_default();
        let l = Layer { name: "L".into(), users: vec![uid(1), uid(2)], start, length,
            handoffs: handoffs.map(str::to_owned), restrictions: vec![Restriction { days: vec![],
            start: NaiveTime::MIN, end: NaiveTime::from_hms_opt(12, 0, 0).unwrap() }] };
        let s = spec("America/New_York", vec![l]);
        let at = DateTime::from_timestamp(at_s, 0).unwrap();
        let _ = on_call(&s, &[], at);
        let _ = timeline(&s, &[], at, at + Duration::days(SPAN_MAX_DAYS));
    }
}

const YEAR_MIN_S: i64 = 0;
const YEAR_MAX_S: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z

#[test]
fn layers_before_1970_or_with_dense_handoffs_are_refused() {
    for (start, handoffs, field) in [
        ("1969-12-31 00:00", None, "layers.start"),
        ("2026-01-05 09:00", Some("FREQ=MINUTELY"), "layers.handoffs"),
        ("2026-01-05 09:00", Some("FREQ=HOURLY"), "layers.handoffs"),
    ] {
        let mut l = layer(&[1], start, Length::Weeks(1));
        l.handoffs = handoffs.map(str::to_owned);
        let e = spec("UTC", vec![l]).validate().unwrap_err();
        assert!(e.to_string().starts_with(field), "{e}");
    }
    // A rotation with a handoff every hour since 1970 still advances (no handoff cap).
    let mut l = layer(&[1, 2, 3], "1970-01-01 00:00", Length::Weeks(1));
    l.handoffs = Some("FREQ=DAILY;BYHOUR=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23".into());
    let s = spec("UTC", vec![l]).validate().unwrap();
    let t = utc("2026-11-29 10:30");
    let hours = (t - utc("1970-01-01 00:00")).num_hours();
    assert_eq!(on_call(&s, &[], t).map(|w| w.0), Some(uid([1, 2, 3][(hours % 3) as usize])));
}
