//! `flood`: quarantines feedback floods from one user and coordinated
//! campaigns across users.
//!
//! Rules, applied to each record in input order:
//!
//! - Rate limit: when a user has more than `max_per_user` records less than
//!   `window_seconds` apart from this one (this one included), it is
//!   quarantined. Every record counts, quarantined ones too, so a user who
//!   keeps flooding stays quarantined.
//! - Campaign: when the same correction, after [`normalize`] (case,
//!   punctuation, spacing and look-alike characters ignored), has come from
//!   at least `campaign_users` distinct users less than
//!   `campaign_window_seconds` apart from this record (its own user
//!   included), it is quarantined. Decisions are made in order, so the
//!   records of the first `campaign_users - 1` users were accepted before
//!   the campaign was visible: when the campaign shows, the guard recalls
//!   them (contract 0.1.3), and every record of the campaign in the window
//!   is held, the first ones included.
//!
//! "Apart" is measured from this record's timestamp in both directions, so
//! with chronological input it is the usual trailing window, and input that
//! is out of order is still judged by time. A record without a timestamp
//! takes the latest timestamp seen so far in the run (the Unix epoch before
//! any): input is normally chronological, so that is the best estimate of
//! "now", and leaving timestamps out cannot dodge either limit. A record
//! with no user (`""`) cannot be attributed: it is exempt from the rate
//! limit and is not counted as a distinct user of a campaign.

use std::collections::{BTreeMap, BTreeSet};

use assay_guard_text::normalize;
use assay_sdk::guard::{Decision, Feedback, Guard, Recall};
use assay_sdk::{PluginInfo, Setting};

#[derive(serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The most records one user may send within `window_seconds`.
    /// Default `20`.
    max_per_user: usize,
    /// The rate limit's window. Default `3600` (an hour).
    window_seconds: u64,
    /// How many distinct users sending the same correction make a campaign.
    /// Default `5`.
    campaign_users: usize,
    /// The campaign's window. Default `86400` (a day).
    campaign_window_seconds: u64,
    /// How far behind the latest timestamp seen a record may be and still
    /// be judged against everything within its windows. Records older than
    /// that are forgotten, so the guard's memory stays flat however long it
    /// runs (as `assay serve` does). Default `86400` (a day).
    max_lateness_seconds: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_per_user: 20,
            window_seconds: 3600,
            campaign_users: 5,
            campaign_window_seconds: 86400,
            max_lateness_seconds: 86400,
        }
    }
}

/// Nanoseconds since the Unix epoch.
type Nanos = i128;

const NANOS_PER_SECOND: Nanos = 1_000_000_000;

/// Earlier records of the campaign named in a reason, at most.
const IDS_SHOWN: usize = 10;

/// One record of a campaign's correction.
#[derive(serde::Serialize, serde::Deserialize)]
struct Sent {
    user: String,
    id: String,
    /// Whether this guard has held it: quarantined it, or recalled it.
    held: bool,
}

/// What it saves for a restart (`Guard::save`) is itself, without its
/// configuration (the restoring instance has its own, the same) and its
/// recalls (the host has taken them by then).
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Flood {
    #[serde(skip)]
    config: Config,
    /// The latest timestamp seen, for records without one.
    now: Nanos,
    /// Per user: how many records at each instant.
    per_user: BTreeMap<String, BTreeMap<Nanos, usize>>,
    /// Per normalized correction: the records that sent it, at each instant.
    campaigns: BTreeMap<String, BTreeMap<Nanos, Vec<Sent>>>,
    /// Recalls made since the host last asked.
    #[serde(skip)]
    recalls: Vec<Recall>,
    /// When the state is next searched for what no record can reach any more:
    /// a time, and a count of records screened (late records do not move
    /// the time on, so they are swept by count).
    next_forget: (Nanos, u64),
    screened: u64,
}

/// Records screened between two searches of the state, at most.
const FORGET_EVERY: u64 = 1 << 16;

impl Guard for Flood {
    type Config = Config;

    fn describe() -> PluginInfo {
        assay_sdk::plugin_info!(
            "flood",
            "Quarantines floods of feedback from one user and coordinated campaigns across users"
        )
    }

    fn new(config: Config) -> Result<Self, String> {
        if config.max_per_user == 0 {
            return Err("`max_per_user` must be at least 1".into());
        }
        if config.campaign_users < 2 {
            return Err("`campaign_users` must be at least 2: one user alone is not a campaign".into());
        }
        if config.window_seconds == 0 || config.campaign_window_seconds == 0 {
            return Err("`window_seconds` and `campaign_window_seconds` must be at least 1".into());
        }
        Ok(Flood {
            config,
            now: 0,
            per_user: BTreeMap::new(),
            campaigns: BTreeMap::new(),
            recalls: Vec::new(),
            next_forget: (Nanos::MIN, FORGET_EVERY),
            screened: 0,
        })
    }

    fn settings(&self) -> Vec<Setting> {
        let c = &self.config;
        vec![
            Setting::new("max_per_user", c.max_per_user),
            Setting::new("window_seconds", c.window_seconds),
            Setting::new("campaign_users", c.campaign_users),
            Setting::new("campaign_window_seconds", c.campaign_window_seconds),
            Setting::new("max_lateness_seconds", c.max_lateness_seconds),
        ]
    }

    fn screen(&mut self, record: &Feedback) -> Result<Decision, String> {
        let at = match &record.timestamp {
            Some(t) => Nanos::from(t.seconds) * NANOS_PER_SECOND + Nanos::from(t.nanoseconds),
            None => self.now,
        };
        self.now = self.now.max(at);
        self.forget();
        let rate_limited = self.rate_limit(record, at);
        let campaign = self.campaign(record, at, rate_limited.is_some());
        let reasons: Vec<String> = [rate_limited, campaign].into_iter().flatten().collect();
        Ok(if reasons.is_empty() { Decision::accept() } else { Decision::quarantine(reasons.join("; ")) })
    }

    fn recalls(&mut self) -> Vec<Recall> {
        std::mem::take(&mut self.recalls)
    }

    fn save(&self) -> Result<Vec<u8>, String> {
        assay_sdk::guard::saved(STATE_FORMAT, self)
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        let restored: Flood = assay_sdk::guard::restored(STATE_FORMAT, state)?;
        *self =
            Flood { config: std::mem::take(&mut self.config), recalls: std::mem::take(&mut self.recalls), ..restored };
        Ok(())
    }
}

/// The shape of a saved state; a change to the fields saved bumps it.
const STATE_FORMAT: u32 = 1;

assay_sdk::export_guard!(Flood);

/// Drops the instants of `map` before `cutoff`; whether any are left.
fn forget_before<V>(map: &mut BTreeMap<Nanos, V>, cutoff: Nanos) -> bool {
    // Most maps hold nothing that old: they are left as they are.
    if map.first_key_value().is_some_and(|(&first, _)| first < cutoff) {
        *map = map.split_off(&cutoff);
    }
    !map.is_empty()
}

/// The instants less than `seconds` away from `at`, either side.
fn around(at: Nanos, seconds: u64) -> std::ops::RangeInclusive<Nanos> {
    let width = Nanos::from(seconds) * NANOS_PER_SECOND - 1;
    at - width..=at + width
}

impl Flood {
    /// Drops the instants no record within `max_lateness_seconds` of the
    /// latest can see. Searching every user costs time, so it is done each
    /// time `now` has moved on by the longest of the windows and the
    /// lateness, or after [`FORGET_EVERY`] records: what is kept is at most
    /// twice what is needed.
    fn forget(&mut self) {
        self.screened += 1;
        if self.now < self.next_forget.0 && self.screened < self.next_forget.1 {
            return;
        }
        let c = &self.config;
        let seconds = |s: u64| Nanos::from(s) * NANOS_PER_SECOND;
        let late = seconds(c.max_lateness_seconds);
        let before = |window: u64| self.now - late - seconds(window);
        let (users_before, campaigns_before) = (before(c.window_seconds), before(c.campaign_window_seconds));
        self.per_user.retain(|_, times| forget_before(times, users_before));
        self.campaigns.retain(|_, sent| forget_before(sent, campaigns_before));
        let longest = c.window_seconds.max(c.campaign_window_seconds).max(c.max_lateness_seconds);
        self.next_forget = (self.now + seconds(longest), self.screened + FORGET_EVERY);
    }

    fn rate_limit(&mut self, record: &Feedback, at: Nanos) -> Option<String> {
        if record.user.is_empty() {
            return None;
        }
        let times = self.per_user.entry(record.user.clone()).or_default();
        *times.entry(at).or_default() += 1;
        let limit = self.config.max_per_user;
        // Counting stops past the limit: a flood's size does not change the verdict.
        let mut count = 0;
        for (_, n) in times.range(around(at, self.config.window_seconds)) {
            count += n;
            if count > limit {
                return Some(format!(
                    "flood: user \"{}\" sent more than {limit} records within {} s",
                    record.user, self.config.window_seconds
                ));
            }
        }
        None
    }

    /// `rate_limited`: whether this record is held for its user's rate.
    fn campaign(&mut self, record: &Feedback, at: Nanos, rate_limited: bool) -> Option<String> {
        let text = normalize(record.correction.as_deref()?);
        if text.is_empty() {
            return None;
        }
        let sent = self.campaigns.entry(text.clone()).or_default();
        if !record.user.is_empty() {
            let own = Sent { user: record.user.clone(), id: record.id.clone(), held: rate_limited };
            sent.entry(at).or_default().push(own);
        }
        let window = around(at, self.config.campaign_window_seconds);
        let users: BTreeSet<&str> = sent.range(window.clone()).flat_map(|(_, v)| v).map(|s| s.user.as_str()).collect();
        let needed = self.config.campaign_users;
        if users.len() < needed {
            return None;
        }
        let users = users.len();
        let shown = format!(
            "campaign: {users} distinct users sent the correction \"{text}\" within {} s",
            self.config.campaign_window_seconds
        );
        // The records that went through before the campaign showed are
        // taken back now; this one is held by its own decision.
        let mut recalled = Vec::new();
        for earlier in sent.range_mut(window).flat_map(|(_, v)| v).filter(|s| !s.held && s.id != record.id) {
            earlier.held = true;
            recalled.push(earlier.id.clone());
        }
        if !record.user.is_empty() {
            // The one pushed above: nothing came after it.
            sent.get_mut(&at).and_then(|v| v.last_mut()).expect("pushed above").held = true;
        }
        if recalled.is_empty() {
            return Some(shown);
        }
        let why = format!("{shown}, shown at record {}; this record came before the campaign showed", record.id);
        self.recalls.extend(recalled.iter().map(|id| Recall::quarantine(id.clone(), why.clone())));
        let more = recalled.len().saturating_sub(IDS_SHOWN);
        let mut ids = recalled.iter().take(IDS_SHOWN).map(String::as_str).collect::<Vec<_>>().join(", ");
        if more > 0 {
            ids.push_str(&format!(" and {more} more"));
        }
        Some(format!("{shown}; recalled the {} earlier records of it that were accepted ({ids})", recalled.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use assay_sdk::guard::{Instant, Verdict};

    fn record(id: usize, user: &str, seconds: Option<i64>, correction: Option<&str>) -> Feedback {
        Feedback {
            id: id.to_string(),
            user: user.into(),
            timestamp: seconds.map(|seconds| Instant { seconds, nanoseconds: 0 }),
            prompt: "What is the capital of Australia?".into(),
            output: "Canberra".into(),
            rating: None,
            correction: correction.map(Into::into),
            comment: None,
            metadata: "{}".into(),
        }
    }

    fn flood(config: Config) -> Flood {
        Flood::new(config).unwrap()
    }

    fn verdicts(guard: &mut Flood, records: &[Feedback]) -> Vec<Verdict> {
        records.iter().map(|r| guard.screen(r).unwrap().verdict).collect()
    }

    const T0: i64 = 1_714_550_400; // 2024-05-01T08:00:00Z

    #[test]
    fn a_restored_state_decides_and_recalls_as_the_saved_one_would_have() {
        // A flooding user, honest users, and a campaign that begins before
        // the save and shows after it, with records out of order and
        // without timestamps.
        let records: Vec<Feedback> = (0..400usize)
            .map(|k| {
                let seconds = (k % 9 != 4).then(|| T0 + (k as i64) * 7 - (k as i64 % 5) * 40);
                match k % 8 {
                    0 | 3 => record(k, "flooder", seconds, None),
                    5 if k > 150 => record(k, &format!("bot{}", k % 23), seconds, Some("The capital is Sydney.")),
                    _ => record(k, &format!("user{}", k % 31), seconds, None),
                }
            })
            .collect();
        let config = || Config { campaign_window_seconds: 600, max_lateness_seconds: 900, ..Config::default() };
        let screened = |guard: &mut Flood, records: &[Feedback]| -> Vec<String> {
            records.iter().map(|r| format!("{:?} {:?}", guard.screen(r).unwrap(), guard.recalls())).collect()
        };
        let mut whole = flood(config());
        let before = screened(&mut whole, &records[..170]);
        assert!(before.iter().any(|d| d.contains("Quarantine")), "the flood is caught");
        let state = whole.save().unwrap();
        let mut restored = flood(config());
        restored.restore(&state).unwrap();
        assert_eq!(restored.save().unwrap(), state, "a restored state saves as it was saved");
        let after = screened(&mut whole, &records[170..]);
        assert!(after.iter().any(|d| d.contains("Recall")), "the campaign shows after the restore");
        assert_eq!(screened(&mut restored, &records[170..]), after);
        assert!(flood(config()).restore(b"{}").unwrap_err().starts_with("not a saved state"));
    }

    #[test]
    fn quarantines_records_beyond_the_rate_limit() {
        let mut g = flood(Config::default());
        let records: Vec<Feedback> = (0..25).map(|i| record(i, "spammer", Some(T0 + 60 * i as i64), None)).collect();
        let got = verdicts(&mut g, &records);
        assert!(got[..20].iter().all(|v| *v == Verdict::Accept));
        assert!(got[20..].iter().all(|v| *v == Verdict::Quarantine));
        let reason = g.screen(&record(99, "spammer", Some(T0 + 1500), None)).unwrap().reason;
        assert_eq!(reason, "flood: user \"spammer\" sent more than 20 records within 3600 s");
    }

    #[test]
    fn the_window_slides() {
        let mut g = flood(Config { max_per_user: 2, window_seconds: 100, ..Config::default() });
        let records = [
            record(1, "u", Some(T0), None),
            record(2, "u", Some(T0 + 50), None),
            record(3, "u", Some(T0 + 99), None),  // 3 within 100 s
            record(4, "u", Some(T0 + 150), None), // T0 and T0+50 are 100 s or more away: 2 left
            record(5, "u", Some(T0 + 160), None), // T0+99, T0+150 and this one
            record(6, "v", Some(T0 + 160), None), // another user
        ];
        let got = verdicts(&mut g, &records);
        assert_eq!(
            got,
            [
                Verdict::Accept,
                Verdict::Accept,
                Verdict::Quarantine,
                Verdict::Accept,
                Verdict::Quarantine,
                Verdict::Accept
            ]
        );
        let mut h = flood(Config { max_per_user: 2, window_seconds: 100, ..Config::default() });
        let spaced = [
            record(1, "u", Some(T0), None),
            record(2, "u", Some(T0 + 100), None),
            record(3, "u", Some(T0 + 200), None),
        ];
        assert_eq!(verdicts(&mut h, &spaced), [Verdict::Accept; 3]);
    }

    #[test]
    fn out_of_order_records_are_judged_by_time() {
        let mut g = flood(Config { max_per_user: 2, window_seconds: 100, ..Config::default() });
        let records = [
            record(1, "u", Some(T0 + 500), None),
            record(2, "u", Some(T0), None),
            record(3, "u", Some(T0 + 450), None),
        ];
        assert_eq!(verdicts(&mut g, &records), [Verdict::Accept, Verdict::Accept, Verdict::Accept]);
        assert_eq!(g.screen(&record(4, "u", Some(T0 + 520), None)).unwrap().verdict, Verdict::Quarantine);
    }

    #[test]
    fn records_without_timestamps_take_the_latest_time() {
        let mut g = flood(Config { max_per_user: 2, window_seconds: 100, ..Config::default() });
        let records = [
            record(1, "other", Some(T0 + 1000), None),
            record(2, "u", None, None),
            record(3, "u", None, None),
            record(4, "u", Some(T0 + 1050), None), // with 2 and 3 at T0+1000: 3 within 100 s
            record(5, "u", Some(T0 + 5000), None),
        ];
        assert_eq!(
            verdicts(&mut g, &records),
            [Verdict::Accept, Verdict::Accept, Verdict::Accept, Verdict::Quarantine, Verdict::Accept]
        );
        // Without any timestamps, a run is one instant.
        let mut h = flood(Config { max_per_user: 3, ..Config::default() });
        let untimed: Vec<Feedback> = (0..5).map(|i| record(i, "u", None, None)).collect();
        assert_eq!(verdicts(&mut h, &untimed)[2..], [Verdict::Accept, Verdict::Quarantine, Verdict::Quarantine]);
    }

    #[test]
    fn anonymous_records_are_not_rate_limited() {
        let mut g = flood(Config { max_per_user: 1, ..Config::default() });
        let records: Vec<Feedback> = (0..5).map(|i| record(i, "", Some(T0), None)).collect();
        assert!(verdicts(&mut g, &records).iter().all(|v| *v == Verdict::Accept));
    }

    #[test]
    fn quarantines_a_campaign_from_its_nth_user_on() {
        let mut g = flood(Config::default());
        let texts = [
            "The capital is Sydney.",
            "the capital is sydney",
            "THE CAPITAL IS SYDNEY!!",
            "The  capital is Sydney",
            "The capital is Sydney",
            "the capital is Sydney.",
        ];
        let records: Vec<Feedback> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| record(i, &format!("user{i}"), Some(T0 + 600 * i as i64), Some(t)))
            .collect();
        let decisions: Vec<Decision> = records.iter().map(|r| g.screen(r).unwrap()).collect();
        let got: Vec<Verdict> = decisions.iter().map(|d| d.verdict).collect();
        assert_eq!(
            got,
            [
                Verdict::Accept,
                Verdict::Accept,
                Verdict::Accept,
                Verdict::Accept,
                Verdict::Quarantine,
                Verdict::Quarantine
            ]
        );
        assert_eq!(
            decisions[4].reason,
            "campaign: 5 distinct users sent the correction \"the capital is sydney\" within 86400 s; recalled the 4 \
             earlier records of it that were accepted (0, 1, 2, 3)"
        );
        // The first four are recalled once, when the campaign shows.
        let recalls = g.recalls();
        assert_eq!(recalls.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["0", "1", "2", "3"]);
        assert!(recalls.iter().all(|r| r.verdict == Verdict::Quarantine));
        assert_eq!(
            recalls[0].reason,
            "campaign: 5 distinct users sent the correction \"the capital is sydney\" within 86400 s, shown at \
             record 4; this record came before the campaign showed"
        );
        assert_eq!(
            decisions[5].reason,
            "campaign: 6 distinct users sent the correction \"the capital is sydney\" within 86400 s"
        );
        assert!(g.recalls().is_empty(), "each record is recalled at most once");
        // A later resubmission by an early user is caught too.
        assert_eq!(
            g.screen(&record(9, "user0", Some(T0 + 4000), Some("the capital is sydney"))).unwrap().verdict,
            Verdict::Quarantine
        );
    }

    #[test]
    fn a_campaign_needs_distinct_users_in_the_window() {
        let mut g = flood(Config { campaign_users: 3, campaign_window_seconds: 1000, ..Config::default() });
        let records = [
            record(1, "a", Some(T0), Some("Sydney")),
            record(2, "a", Some(T0 + 1), Some("Sydney")),
            record(3, "a", Some(T0 + 2), Some("Sydney")), // one user, three times
            record(4, "b", Some(T0 + 3), Some("Canberra")),
            record(5, "", Some(T0 + 4), Some("Sydney")), // anonymous users do not count
            record(6, "c", Some(T0 + 2000), Some("Sydney")), // too late for a's records
            record(7, "d", Some(T0 + 2500), Some("sydney")), // c and d: two users
            record(8, "e", Some(T0 + 2600), Some("Sydney!")), // c, d and e
        ];
        let got = verdicts(&mut g, &records);
        assert_eq!(got[..7], [Verdict::Accept; 7]);
        assert_eq!(got[7], Verdict::Quarantine);
    }

    #[test]
    fn honest_users_pass() {
        let mut g = flood(Config::default());
        let mut verdicts = Vec::new();
        for user in 0..30 {
            for k in 0..3 {
                let correction = format!("Correction number {k} from user {user}");
                let r =
                    record(user * 3 + k, &format!("u{user}"), Some(T0 + 60 * (user * 3 + k) as i64), Some(&correction));
                verdicts.push(g.screen(&r).unwrap().verdict);
            }
        }
        assert!(verdicts.iter().all(|v| *v == Verdict::Accept));
        // Spread over a day and a half, 20 records an hour per user is fine.
        let mut h = flood(Config::default());
        let steady: Vec<Feedback> = (0..720).map(|i| record(i, "busy", Some(T0 + 180 * i as i64 + 1), None)).collect();
        assert!(steady.iter().all(|r| h.screen(r).unwrap().verdict == Verdict::Accept));
    }

    #[test]
    fn memory_stays_flat_and_only_records_later_than_the_lateness_bound_miss_anything() {
        let config = Config {
            max_per_user: 2,
            window_seconds: 100,
            campaign_users: 2,
            campaign_window_seconds: 100,
            max_lateness_seconds: 1000,
        };
        let mut g = flood(config);
        // A day of one new user a second, each sending one correction: without
        // forgetting, every user and correction would be kept.
        for i in 0..86_400usize {
            let text = format!("correction {i}");
            g.screen(&record(i, &format!("u{i}"), Some(T0 + i as i64), Some(&text))).unwrap();
        }
        let kept = |g: &Flood| {
            let instants: usize = g.per_user.values().map(BTreeMap::len).sum();
            instants + g.campaigns.values().flat_map(|sent| sent.values()).map(Vec::len).sum::<usize>()
        };
        // Per kind: the lateness, a window, and up to one sweep interval (the lateness).
        assert!(kept(&g) <= 2 * (1000 + 100 + 1000), "{} records kept", kept(&g));
        // A record as late as allowed still sees the user's records around it...
        let mut seen = |user: &str, at: i64| g.screen(&record(0, user, Some(at), None)).unwrap().verdict;
        let late = T0 + 86_399 - 1000;
        assert_eq!(seen("u85350", late), Verdict::Accept);
        assert_eq!(seen("u85350", late), Verdict::Quarantine, "three records of u85350 within 100 s");
        // ...and a later one is judged against what was kept: u1's record
        // at T0 + 1 is forgotten, so two more are within the limit.
        assert_eq!(seen("u1", T0 + 1), Verdict::Accept);
        assert_eq!(seen("u1", T0 + 1), Verdict::Accept);
        // Late records replayed without end do not pile up either.
        for round in 0..3 {
            for i in 0..FORGET_EVERY as usize {
                let text = format!("correction {i}");
                g.screen(&record(i, &format!("u{i}"), Some(T0 + i as i64), Some(&text))).unwrap();
            }
            assert!(kept(&g) <= 2 * (FORGET_EVERY as usize + 1200), "round {round}: {} kept", kept(&g));
        }
    }

    #[test]
    fn rejects_bad_configuration() {
        assert!(Flood::new(Config { max_per_user: 0, ..Config::default() }).is_err());
        assert!(Flood::new(Config { campaign_users: 1, ..Config::default() }).is_err());
        assert!(Flood::new(Config { window_seconds: 0, ..Config::default() }).is_err());
        let settings = flood(Config::default()).settings();
        assert_eq!(
            settings.iter().map(|s| s.value.as_str()).collect::<Vec<_>>(),
            ["20", "3600", "5", "86400", "86400"]
        );
    }
}
