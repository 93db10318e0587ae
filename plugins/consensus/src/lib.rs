//! `consensus`: quarantines ratings that go against what other users say.
//!
//! Ratings are grouped by the rated pair: the [`normalize`]d prompt and
//! output. Within a group each user's latest rating counts once (so voting
//! again changes a vote, never adds one); records without a user count as a
//! voter each. Thumbs and numeric scores are compared separately. Records
//! with neither a prompt nor an output are not grouped.
//!
//! Rules, applied to each record in input order:
//!
//! - Against the majority: a thumb opposing the side that at least
//!   `majority` of at least `min_votes` other users took on the same pair,
//!   or a score more than `score_tolerance` away from the median score of at
//!   least `min_votes` other users, is quarantined. Decisions are made in
//!   order, so a user who is simply the first to rate a pair is accepted:
//!   there is no majority yet to oppose.
//! - Contrarian: a user whose current ratings oppose the consensus on at
//!   least `max_disagreement` of the pairs where one exists now (at least
//!   `min_rated` such pairs) has each record quarantined while that holds. This
//!   counts consensus that formed after the user rated, so a user who rates
//!   everything first, and always against what everyone then says, is still
//!   caught. When the rule first holds, the guard recalls (contract 0.1.3)
//!   the user's earlier ratings that oppose a consensus and were accepted,
//!   so all of them are held, the first ones included.
//!
//! Timestamps play no part: a pair's consensus spans the whole run.

use std::collections::BTreeMap;

use assay_guard_text::normalize;
use assay_guard_text::numbers::format_number;
use assay_sdk::guard::{Decision, Feedback, Guard, Rating, Recall};
use assay_sdk::{PluginInfo, Setting};

#[derive(serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// How many other users must have rated a pair before a rating can go
    /// against them. Default `5`.
    min_votes: usize,
    /// The share of other users' thumbs on one side that makes a clear
    /// majority, above one half. Default `0.8`.
    majority: f64,
    /// How far a score may be from the other users' median. Default `1`.
    score_tolerance: f64,
    /// How many pairs with a consensus a user must have rated before being
    /// judged a contrarian. Default `5`.
    min_rated: usize,
    /// The share of those pairs where a contrarian opposes the consensus.
    /// Default `0.5`.
    max_disagreement: f64,
    /// How many rated prompts and outputs are remembered, at most: past
    /// that, the one rated least recently is forgotten (its votes and the
    /// users' ratings of it), so the guard's memory stays flat however long
    /// it runs (as `assay serve` does). Default `100000`.
    max_pairs: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            min_votes: 5,
            majority: 0.8,
            score_tolerance: 1.0,
            min_rated: 5,
            max_disagreement: 0.5,
            max_pairs: 100_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
enum Vote {
    Thumb { up: bool },
    Score(f64),
}

impl Vote {
    fn of(rating: &Rating) -> Vote {
        match rating {
            Rating::Up => Vote::Thumb { up: true },
            Rating::Down => Vote::Thumb { up: false },
            Rating::Score(s) => Vote::Score(*s),
        }
    }
}

/// The ratings of one prompt and output.
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Group {
    /// Each voter's latest vote.
    votes: BTreeMap<String, Vote>,
    ups: usize,
    downs: usize,
    /// When it was last rated, as a count of ratings: its key in
    /// [`Consensus::by_age`].
    rated_at: u64,
}

impl Group {
    fn cast(&mut self, voter: &str, vote: Vote) {
        if let Some(Vote::Thumb { up }) = self.votes.insert(voter.to_string(), vote) {
            *self.tally(up) -= 1;
        }
        if let Vote::Thumb { up } = vote {
            *self.tally(up) += 1;
        }
    }

    fn tally(&mut self, up: bool) -> &mut usize {
        if up { &mut self.ups } else { &mut self.downs }
    }
}

/// How a vote compares with the other voters of its group.
enum Judgement {
    /// Too few other votes, or no clear majority.
    NoConsensus,
    Agrees,
    /// Against the consensus: what the others said, and how strongly.
    Opposes {
        consensus: String,
        strength: Option<f64>,
    },
}

/// A named user's latest rating of one group.
#[derive(serde::Serialize, serde::Deserialize)]
struct Cast {
    /// The record it came in.
    id: String,
    /// Whether this guard has held that record: quarantined or recalled it.
    held: bool,
    /// The group's place in [`Consensus::slots`].
    group: usize,
}

/// What it saves for a restart (`Guard::save`) is itself, without its
/// configuration (the restoring instance has its own, the same) and its
/// recalls (the host has taken them by then).
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Consensus {
    #[serde(skip)]
    config: Config,
    /// Each prompt and output's place in `slots`. An ordered map, not a hash
    /// table, so that crafted texts cannot make lookups slow.
    groups: BTreeMap<String, usize>,
    /// The groups, found by place: a user's casts keep their group's place,
    /// so judging all of a user's ratings on every record of theirs
    /// compares no texts (finding each by its text was a third of this
    /// guard's time).
    slots: Vec<Group>,
    /// Places in `slots` of forgotten groups, for new ones.
    free: Vec<usize>,
    /// The groups each named user has rated, with their latest rating's record.
    rated: BTreeMap<String, BTreeMap<String, Cast>>,
    /// Numbers the voters without a name.
    anonymous: usize,
    /// The groups by when they were last rated, oldest first.
    by_age: BTreeMap<u64, String>,
    /// Ratings grouped so far.
    ratings: u64,
    /// Recalls made since the host last asked.
    #[serde(skip)]
    recalls: Vec<Recall>,
}

impl Guard for Consensus {
    type Config = Config;

    fn describe() -> PluginInfo {
        assay_sdk::plugin_info!(
            "consensus",
            "Quarantines ratings against a clear majority of other users, and contrarian users"
        )
    }

    fn new(config: Config) -> Result<Self, String> {
        if config.min_votes == 0 || config.min_rated == 0 {
            return Err("`min_votes` and `min_rated` must be at least 1".into());
        }
        if !(config.majority > 0.5 && config.majority <= 1.0) {
            return Err(format!("`majority` must be above 0.5 and at most 1, not {}", config.majority));
        }
        if !(config.score_tolerance.is_finite() && config.score_tolerance >= 0.0) {
            return Err(format!("`score_tolerance` must be a number of at least 0, not {}", config.score_tolerance));
        }
        if !(config.max_disagreement > 0.0 && config.max_disagreement <= 1.0) {
            return Err(format!("`max_disagreement` must be above 0 and at most 1, not {}", config.max_disagreement));
        }
        if config.max_pairs == 0 {
            return Err("`max_pairs` must be at least 1".into());
        }
        Ok(Consensus {
            config,
            groups: BTreeMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            rated: BTreeMap::new(),
            anonymous: 0,
            by_age: BTreeMap::new(),
            ratings: 0,
            recalls: Vec::new(),
        })
    }

    fn settings(&self) -> Vec<Setting> {
        let c = &self.config;
        vec![
            Setting::new("min_votes", c.min_votes),
            Setting::new("majority", c.majority),
            Setting::new("score_tolerance", c.score_tolerance),
            Setting::new("min_rated", c.min_rated),
            Setting::new("max_disagreement", c.max_disagreement),
            Setting::new("max_pairs", c.max_pairs),
        ]
    }

    fn screen(&mut self, record: &Feedback) -> Result<Decision, String> {
        if let Some(Rating::Score(s)) = record.rating
            && !s.is_finite()
        {
            return Err("the numeric rating is not a finite number".into());
        }
        let voter = if record.user.is_empty() {
            self.anonymous += 1;
            format!("\0anonymous {}", self.anonymous)
        } else {
            record.user.clone()
        };
        let mut reasons = Vec::new();
        let mut risk: Option<f64> = None;
        let key = format!("{}\n{}", normalize(&record.prompt), normalize(&record.output));
        // Without a prompt or an output there is nothing to agree on.
        if let Some(rating) = &record.rating
            && key != "\n"
        {
            let vote = Vote::of(rating);
            self.ratings += 1;
            let place = match self.groups.get(&key) {
                Some(&place) => place,
                None => {
                    let place = self.free.pop().unwrap_or_else(|| {
                        self.slots.push(Group::default());
                        self.slots.len() - 1
                    });
                    self.groups.insert(key.clone(), place);
                    place
                }
            };
            let group = &mut self.slots[place];
            if group.rated_at != 0 {
                self.by_age.remove(&group.rated_at);
            }
            group.rated_at = self.ratings;
            self.by_age.insert(self.ratings, key.clone());
            if let Judgement::Opposes { consensus, strength } = judge(&self.config, group, &voter, vote) {
                reasons
                    .push(format!("{} against the consensus on this prompt and output: {consensus}", describe(vote)));
                risk = strength;
            }
            group.cast(&voter, vote);
            if !record.user.is_empty() {
                let cast = Cast { id: record.id.clone(), held: false, group: place };
                self.rated.entry(voter.clone()).or_default().insert(key.clone(), cast);
            }
            if self.groups.len() > self.config.max_pairs {
                self.forget_oldest();
            }
        }
        if let Some((opposed, judged)) = self.disagreements(&voter) {
            let rate = opposed as f64 / judged as f64;
            if judged >= self.config.min_rated && rate >= self.config.max_disagreement {
                let shown = format!(
                    "contrarian: user \"{}\" opposes the consensus on {opposed} of {judged} rated prompts and outputs that have one",
                    record.user
                );
                self.recall_opposed(&voter, record, &shown);
                reasons.push(shown);
                risk = Some(risk.map_or(rate, |r| r.max(rate)));
            }
        }
        if reasons.is_empty() {
            return Ok(Decision::accept());
        }
        if let Some(own) = self.rated.get_mut(&voter).and_then(|casts| casts.get_mut(&key))
            && own.id == record.id
        {
            own.held = true;
        }
        Ok(Decision { risk, ..Decision::quarantine(reasons.join("; ")) })
    }

    fn recalls(&mut self) -> Vec<Recall> {
        std::mem::take(&mut self.recalls)
    }

    fn save(&self) -> Result<Vec<u8>, String> {
        assay_sdk::guard::saved(STATE_FORMAT, self)
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        let restored: Consensus = assay_sdk::guard::restored(STATE_FORMAT, state)?;
        *self = Consensus {
            config: std::mem::take(&mut self.config),
            recalls: std::mem::take(&mut self.recalls),
            ..restored
        };
        Ok(())
    }
}

/// The shape of a saved state; a change to the fields saved bumps it.
const STATE_FORMAT: u32 = 1;

assay_sdk::export_guard!(Consensus);

fn describe(vote: Vote) -> String {
    match vote {
        Vote::Thumb { up: true } => "thumbs up".into(),
        Vote::Thumb { up: false } => "thumbs down".into(),
        Vote::Score(s) => format!("score {}", format_number(s)),
    }
}

/// How `vote` by `voter` compares with the other voters of `group`.
fn judge(config: &Config, group: &Group, voter: &str, vote: Vote) -> Judgement {
    let own = group.votes.get(voter).copied();
    match vote {
        Vote::Thumb { up } => {
            let own_up = usize::from(own == Some(Vote::Thumb { up: true }));
            let own_down = usize::from(own == Some(Vote::Thumb { up: false }));
            let (ups, downs) = (group.ups - own_up, group.downs - own_down);
            let total = ups + downs;
            if total < config.min_votes {
                return Judgement::NoConsensus;
            }
            let (side, count) = if ups >= downs { (true, ups) } else { (false, downs) };
            let share = count as f64 / total as f64;
            if share < config.majority {
                Judgement::NoConsensus
            } else if side == up {
                Judgement::Agrees
            } else {
                let word = if side { "up" } else { "down" };
                Judgement::Opposes {
                    consensus: format!("{count} of {total} other users rated it {word}"),
                    strength: Some(share),
                }
            }
        }
        Vote::Score(score) => {
            let mut others: Vec<f64> = group
                .votes
                .iter()
                .filter(|(v, _)| v.as_str() != voter)
                .filter_map(|(_, vote)| match vote {
                    Vote::Score(s) => Some(*s),
                    Vote::Thumb { .. } => None,
                })
                .collect();
            if others.len() < config.min_votes {
                return Judgement::NoConsensus;
            }
            others.sort_by(f64::total_cmp);
            let mid = others.len() / 2;
            let median = if others.len() % 2 == 1 { others[mid] } else { (others[mid - 1] + others[mid]) / 2.0 };
            if (score - median).abs() <= config.score_tolerance {
                Judgement::Agrees
            } else {
                Judgement::Opposes {
                    consensus: format!(
                        "the median score of {} other users is {} (tolerance {})",
                        others.len(),
                        format_number(median),
                        format_number(config.score_tolerance)
                    ),
                    strength: None,
                }
            }
        }
    }
}

impl Consensus {
    /// Forgets the group rated least recently, and every user's rating of it.
    fn forget_oldest(&mut self) {
        let Some((_, key)) = self.by_age.pop_first() else { return };
        let Some(place) = self.groups.remove(&key) else { return };
        let group = std::mem::take(&mut self.slots[place]);
        self.free.push(place);
        for voter in group.votes.keys() {
            if let Some(casts) = self.rated.get_mut(voter) {
                casts.remove(&key);
                if casts.is_empty() {
                    self.rated.remove(voter);
                }
            }
        }
    }

    /// Of the groups `voter` rated that have a consensus now: how many the
    /// voter's rating opposes, and how many there are.
    fn disagreements(&self, voter: &str) -> Option<(usize, usize)> {
        let (mut opposed, mut judged) = (0, 0);
        for cast in self.rated.get(voter)?.values() {
            let group = &self.slots[cast.group];
            match judge(&self.config, group, voter, group.votes[voter]) {
                Judgement::NoConsensus => {}
                Judgement::Agrees => judged += 1,
                Judgement::Opposes { .. } => {
                    judged += 1;
                    opposed += 1;
                }
            }
        }
        (judged > 0).then_some((opposed, judged))
    }

    /// Recalls the records of `voter`'s ratings that oppose their group's
    /// consensus and went through, now that the voter shows as a contrarian
    /// at `record`. Judged again here, on this rare path, so that the count
    /// every record needs allocates nothing.
    fn recall_opposed(&mut self, voter: &str, record: &Feedback, shown: &str) {
        let Some(casts) = self.rated.get_mut(voter) else { return };
        for cast in casts.values_mut() {
            let group = &self.slots[cast.group];
            let opposes = matches!(judge(&self.config, group, voter, group.votes[voter]), Judgement::Opposes { .. });
            if opposes && !cast.held && cast.id != record.id {
                cast.held = true;
                let why = format!("{shown}, shown at record {}; this rating opposes one of them", record.id);
                self.recalls.push(Recall::quarantine(cast.id.clone(), why));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use assay_sdk::guard::Verdict;

    fn rate(g: &mut Consensus, user: &str, item: usize, rating: Rating) -> Decision {
        let record = Feedback {
            id: format!("{user}-{item}"),
            user: user.into(),
            timestamp: None,
            prompt: format!("Question number {item}?"),
            output: format!("Answer {item}."),
            rating: Some(rating),
            correction: None,
            comment: None,
            metadata: "{}".into(),
        };
        g.screen(&record).unwrap()
    }

    fn guard() -> Consensus {
        Consensus::new(Config::default()).unwrap()
    }

    fn crowd(g: &mut Consensus, item: usize, ratings: &[Rating]) {
        for (k, rating) in ratings.iter().enumerate() {
            let d = rate(g, &format!("crowd{k}"), item, *rating);
            assert_eq!(d.verdict, Verdict::Accept, "crowd{k} on {item}: {}", d.reason);
        }
    }

    use Rating::{Down, Up};

    /// Each record's decision and the recalls after it, as text.
    fn screened(g: &mut Consensus, records: &[(String, usize, Rating)]) -> Vec<String> {
        records
            .iter()
            .map(|(user, item, rating)| {
                let decision = rate(g, user, *item, *rating);
                format!("{decision:?} {:?}", g.recalls())
            })
            .collect()
    }

    #[test]
    fn a_restored_state_decides_and_recalls_as_the_saved_one_would_have() {
        // Thumbs and scores from a crowd, two contrarians, and anonymous voters.
        let records: Vec<(String, usize, Rating)> = (0..600usize)
            .map(|k| {
                // Ten prompts, then thirteen: more than `max_pairs`, so groups are forgotten.
                let item = if k < 300 { k * 7 % 10 } else { k * 7 % 13 };
                let user = match k % 11 {
                    0 => "contrarian-a".to_string(),
                    5 => "contrarian-b".to_string(),
                    9 => String::new(),
                    _ => format!("user{}", k % 17),
                };
                let agrees = !user.starts_with("contrarian");
                let rating = match item % 3 {
                    0 => Rating::Score(if agrees { 4.5 - (k % 3) as f64 * 0.1 } else { 1.0 / 3.0 }),
                    _ if agrees => Up,
                    _ => Down,
                };
                (user, item, rating)
            })
            .collect();
        let config = || Config { max_pairs: 11, ..Config::default() };
        let mut whole = Consensus::new(config()).unwrap();
        let before = screened(&mut whole, &records[..350]);
        assert!(before.iter().any(|d| d.contains("Quarantine")), "the contrarians are caught");
        let state = whole.save().unwrap();
        let mut restored = Consensus::new(config()).unwrap();
        restored.restore(&state).unwrap();
        assert_eq!(restored.save().unwrap(), state, "a restored state saves as it was saved");
        let after = screened(&mut whole, &records[350..]);
        assert!(after.iter().any(|d| d.contains("Recall")) || before.iter().any(|d| d.contains("Recall")));
        assert_eq!(screened(&mut restored, &records[350..]), after);
        // A state of another shape is refused, not misread.
        let other = String::from_utf8(state).unwrap().replacen("\"format\":1", "\"format\":2", 1);
        let refused = Consensus::new(config()).unwrap().restore(other.as_bytes()).unwrap_err();
        assert_eq!(refused, "a state saved in format 2; this version reads format 1");
    }

    #[test]
    fn quarantines_a_thumb_against_a_clear_majority() {
        let mut g = guard();
        crowd(&mut g, 1, &[Up; 6]);
        let d = rate(&mut g, "troll", 1, Down);
        assert_eq!(d.verdict, Verdict::Quarantine);
        assert_eq!(
            d.reason,
            "thumbs down against the consensus on this prompt and output: 6 of 6 other users rated it up"
        );
        assert_eq!(d.risk, Some(1.0));
        assert_eq!(rate(&mut g, "fan", 1, Up).verdict, Verdict::Accept);
    }

    #[test]
    fn needs_enough_votes_and_a_clear_majority() {
        let mut g = guard();
        crowd(&mut g, 1, &[Up; 4]);
        assert_eq!(rate(&mut g, "critic", 1, Down).verdict, Verdict::Accept, "only 4 other votes");
        crowd(&mut g, 2, &[Down, Down, Up, Up, Up, Up]);
        assert_eq!(rate(&mut g, "critic", 2, Down).verdict, Verdict::Accept, "4 of 6 is no clear majority");
        // 4 of 5 is exactly 0.8: a clear majority.
        crowd(&mut g, 3, &[Up, Up, Up, Up, Down]);
        assert_eq!(rate(&mut g, "critic", 3, Down).verdict, Verdict::Quarantine);
    }

    #[test]
    fn the_first_to_rate_is_accepted() {
        let mut g = guard();
        assert_eq!(rate(&mut g, "early", 1, Down).verdict, Verdict::Accept);
        crowd(&mut g, 1, &[Up; 6]);
        assert_eq!(rate(&mut g, "early", 2, Up).verdict, Verdict::Accept);
        // One early disagreement in five judged pairs is no contrarian.
        for item in 3..7 {
            assert_eq!(rate(&mut g, "early", item, Up).verdict, Verdict::Accept);
            crowd(&mut g, item, &[Up; 5]);
        }
        assert_eq!(rate(&mut g, "early", 7, Up).verdict, Verdict::Accept);
    }

    #[test]
    fn catches_a_contrarian_who_always_rates_first() {
        let mut g = guard();
        for item in 1..=5 {
            assert_eq!(rate(&mut g, "contrarian", item, Down).verdict, Verdict::Accept, "first on {item}");
            crowd(&mut g, item, &[Up; 5]);
        }
        let d = rate(&mut g, "contrarian", 6, Up);
        assert_eq!(d.verdict, Verdict::Quarantine);
        assert_eq!(
            d.reason,
            "contrarian: user \"contrarian\" opposes the consensus on 5 of 5 rated prompts and outputs that have one"
        );
        assert_eq!(d.risk, Some(1.0));
        // The five ratings that went through first are recalled, once.
        let recalls = g.recalls();
        let ids: Vec<&str> = recalls.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["contrarian-1", "contrarian-2", "contrarian-3", "contrarian-4", "contrarian-5"]);
        assert!(recalls.iter().all(|r| r.verdict == Verdict::Quarantine));
        assert!(recalls[0].reason.ends_with("shown at record contrarian-6; this rating opposes one of them"));
        assert_eq!(rate(&mut g, "contrarian", 7, Down).verdict, Verdict::Quarantine);
        assert!(g.recalls().is_empty(), "each record is recalled at most once");
        // The crowd is not tainted by rating alongside.
        assert_eq!(rate(&mut g, "crowd0", 6, Up).verdict, Verdict::Accept);
        assert!(g.recalls().is_empty());
    }

    #[test]
    fn ratings_held_when_made_are_not_recalled() {
        let mut g = guard();
        for item in 1..=5 {
            crowd(&mut g, item, &[Up; 5]);
            let d = rate(&mut g, "late", item, Down);
            assert_eq!(d.verdict, Verdict::Quarantine, "against the majority on {item}");
        }
        assert!(g.recalls().is_empty(), "{:?}", g.recalls());
    }

    #[test]
    fn a_user_counts_once_per_pair() {
        let mut g = guard();
        for _ in 0..10 {
            assert_eq!(rate(&mut g, "stuffer", 1, Up).verdict, Verdict::Accept);
        }
        assert_eq!(rate(&mut g, "honest", 1, Down).verdict, Verdict::Accept);
        // Changing a vote moves it between sides.
        crowd(&mut g, 2, &[Down; 6]);
        for k in 0..6 {
            rate(&mut g, &format!("crowd{k}"), 2, Up);
        }
        assert_eq!(rate(&mut g, "late", 2, Down).verdict, Verdict::Quarantine, "all six switched to up");
    }

    #[test]
    fn anonymous_votes_count_each() {
        let mut g = guard();
        for _ in 0..5 {
            assert_eq!(rate(&mut g, "", 9, Up).verdict, Verdict::Accept);
        }
        assert_eq!(rate(&mut g, "", 9, Down).verdict, Verdict::Quarantine);
    }

    #[test]
    fn scores_are_compared_with_the_median() {
        let mut g = guard();
        crowd(
            &mut g,
            1,
            &[Rating::Score(5.0), Rating::Score(4.0), Rating::Score(5.0), Rating::Score(5.0), Rating::Score(4.0)],
        );
        let low = rate(&mut g, "grump", 1, Rating::Score(1.0));
        assert_eq!(
            low.reason,
            "score 1 against the consensus on this prompt and output: the median score of 5 other users is 5 (tolerance 1)"
        );
        assert_eq!(low.risk, None);
        assert_eq!(rate(&mut g, "mild", 1, Rating::Score(4.0)).verdict, Verdict::Accept);
        // Thumbs are a separate pool: five scores are not five thumbs.
        assert_eq!(rate(&mut g, "thumber", 1, Down).verdict, Verdict::Accept);
        let mut strict = Consensus::new(Config { score_tolerance: 0.0, ..Config::default() }).unwrap();
        crowd(&mut strict, 1, &[Rating::Score(5.0); 5]);
        assert_eq!(rate(&mut strict, "mild", 1, Rating::Score(4.5)).verdict, Verdict::Quarantine);
        assert!(
            g.screen(&Feedback { rating: Some(Rating::Score(f64::NAN)), ..record_with("x", "What?", "This.") })
                .is_err()
        );
    }

    fn record_with(user: &str, prompt: &str, output: &str) -> Feedback {
        Feedback {
            id: "1".into(),
            user: user.into(),
            timestamp: None,
            prompt: prompt.into(),
            output: output.into(),
            rating: None,
            correction: None,
            comment: None,
            metadata: "{}".into(),
        }
    }

    #[test]
    fn groups_by_normalized_prompt_and_output() {
        let mut g = guard();
        for (k, prompt) in
            ["What is 2+2?", "what is 2 + 2", "WHAT IS 2+2??", "What's 2+2?", "what is 2+2"].iter().enumerate()
        {
            let r = Feedback { rating: Some(Down), ..record_with(&format!("u{k}"), prompt, "4") };
            assert_eq!(g.screen(&r).unwrap().verdict, Verdict::Accept);
        }
        let up = Feedback { rating: Some(Up), ..record_with("defender", "What is 2+2 ?", " 4. ") };
        assert_eq!(g.screen(&up).unwrap().verdict, Verdict::Quarantine);
        let other_output = Feedback { rating: Some(Up), ..record_with("defender", "What is 2+2?", "5") };
        assert_eq!(g.screen(&other_output).unwrap().verdict, Verdict::Accept);
        // With neither prompt nor output there is no pair to agree on.
        for k in 0..6 {
            assert_eq!(
                g.screen(&Feedback { rating: Some(Up), ..record_with(&format!("e{k}"), "", " ") }).unwrap().verdict,
                Verdict::Accept
            );
        }
        assert_eq!(
            g.screen(&Feedback { rating: Some(Down), ..record_with("e9", "", "") }).unwrap().verdict,
            Verdict::Accept
        );
        // Records without a rating are judged only on their user's record.
        assert_eq!(g.screen(&record_with("u9", "What is 2+2?", "4")).unwrap().verdict, Verdict::Accept);
    }

    #[test]
    fn rejects_bad_configuration() {
        assert!(Consensus::new(Config { majority: 0.5, ..Config::default() }).is_err());
        assert!(Consensus::new(Config { majority: 1.5, ..Config::default() }).is_err());
        assert!(Consensus::new(Config { min_votes: 0, ..Config::default() }).is_err());
        assert!(Consensus::new(Config { score_tolerance: -1.0, ..Config::default() }).is_err());
        assert!(Consensus::new(Config { max_disagreement: 0.0, ..Config::default() }).is_err());
        assert!(Consensus::new(Config { max_pairs: 0, ..Config::default() }).is_err());
        let values: Vec<String> = guard().settings().into_iter().map(|s| s.value).collect();
        assert_eq!(values, ["5", "0.8", "1", "5", "0.5", "100000"]);
    }

    #[test]
    fn the_pairs_rated_least_recently_are_forgotten() {
        let mut g = Consensus::new(Config { max_pairs: 3, ..Config::default() }).unwrap();
        let up = Rating::Up;
        crowd(&mut g, 0, &[up; 5]);
        for item in 1..1000 {
            rate(&mut g, "passer-by", item, up);
        }
        assert_eq!((g.groups.len(), g.by_age.len(), g.rated["passer-by"].len()), (3, 3, 3));
        // A forgotten pair's place is taken by the next new one.
        assert_eq!((g.slots.len(), g.free.len()), (4, 1));
        assert!(!g.rated.contains_key("crowd0"), "the crowd's only pair was forgotten with its votes");
        // Pair 0's consensus is gone with it: a thumb down is the first vote.
        assert_eq!(rate(&mut g, "dissenter", 0, Rating::Down).verdict, Verdict::Accept);
        // A pair rated again is kept over older ones.
        let mut h = Consensus::new(Config { max_pairs: 2, ..Config::default() }).unwrap();
        crowd(&mut h, 0, &[up; 5]);
        rate(&mut h, "a", 1, up);
        rate(&mut h, "b", 0, up);
        rate(&mut h, "a", 2, up);
        assert!(h.groups.len() == 2 && h.rated["b"].len() == 1, "pair 0 stays, pair 1 goes");
        assert_eq!(rate(&mut h, "dissenter", 0, Rating::Down).verdict, Verdict::Quarantine);
    }
}
