//! How a service is scored against a person's needs: the weights (settings), the
//! components of a score and the eligibility rules shared with the gates of sending.
//! Pure functions: the facts come from [`super::service`].

use crate::settings::Settings;
use crate::validation::FieldErrorCode;

/// The weight of each component of a score (settings `match_weight_*`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Weights {
    /// Share of the asked needs the service's types address.
    pub need: f64,
    /// The service's area covers the person's municipality.
    pub area: f64,
    /// The service speaks one of the person's languages.
    pub language: f64,
    /// Nearness of the service's sites.
    pub distance: f64,
    /// Typical wait.
    pub wait: f64,
    /// Open places.
    pub capacity: f64,
    /// A protocol in force between the sender and the provider.
    pub protocol: f64,
    /// Eligibility: a service for the person's target groups.
    pub eligibility: f64,
    /// A typical wait of this many days or more scores 0.
    pub wait_horizon_days: u32,
}

impl Weights {
    /// The weights of `settings`: each finite, between 0 and 100, not all 0; the wait
    /// horizon at least one day.
    pub fn from_settings(settings: &Settings) -> Result<Self, String> {
        let weights = Self {
            need: settings.match_weight_need,
            area: settings.match_weight_area,
            language: settings.match_weight_language,
            distance: settings.match_weight_distance,
            wait: settings.match_weight_wait,
            capacity: settings.match_weight_capacity,
            protocol: settings.match_weight_protocol,
            eligibility: settings.match_weight_eligibility,
            wait_horizon_days: settings.match_wait_horizon_days,
        };
        for (component, weight) in weights.each() {
            if !weight.is_finite() || !(0.0..=100.0).contains(&weight) {
                return Err(format!(
                    "match_weight_{} must be a number from 0 to 100",
                    component.setting()
                ));
            }
        }
        if weights.each().iter().all(|(_, weight)| *weight == 0.0) {
            return Err("at least one match_weight_* must be above 0".to_owned());
        }
        if weights.wait_horizon_days == 0 {
            return Err("match_wait_horizon_days must be at least 1".to_owned());
        }
        Ok(weights)
    }

    /// Every component with its weight, in the order scores list them.
    pub fn each(&self) -> [(Component, f64); 8] {
        [
            (Component::Need, self.need),
            (Component::Area, self.area),
            (Component::Language, self.language),
            (Component::Distance, self.distance),
            (Component::Wait, self.wait),
            (Component::Capacity, self.capacity),
            (Component::Protocol, self.protocol),
            (Component::Eligibility, self.eligibility),
        ]
    }
}

/// A component of a score.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component {
    /// The service's types address the needs.
    Need,
    /// The service's area covers the municipality.
    Area,
    /// The service speaks the person's language.
    Language,
    /// The service's sites are near.
    Distance,
    /// The typical wait is short.
    Wait,
    /// The service has open places.
    Capacity,
    /// A protocol in force binds the sender and the provider.
    Protocol,
    /// The service is for the person's target groups.
    Eligibility,
}

impl Component {
    /// The name of its weight setting, after `match_weight_`.
    pub fn setting(self) -> &'static str {
        match self {
            Component::Need => "need",
            Component::Area => "area",
            Component::Language => "language",
            Component::Distance => "distance",
            Component::Wait => "wait",
            Component::Capacity => "capacity",
            Component::Protocol => "protocol",
            Component::Eligibility => "eligibility",
        }
    }
}

/// How near a service's nearest site is to the person's municipality.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nearness {
    /// Delivered remotely: distance does not matter.
    Remote,
    /// A site in the municipality.
    Municipality,
    /// A site in a zone (zona-distretto) the municipality belongs to.
    Zone,
    /// A site in the municipality's province.
    Province,
    /// Sites farther away, or none recorded.
    Far,
}

/// What is known of a service, for one person.
#[derive(Clone, Debug, PartialEq)]
pub struct Facts {
    /// The service is ACTIVE.
    pub active: bool,
    /// Its area covers the person's municipality.
    pub covers_area: bool,
    /// How many of the asked needs its types address.
    pub needs_addressed: usize,
    /// How many needs were asked.
    pub needs_asked: usize,
    /// Languages asked: none means no preference.
    pub languages_asked: bool,
    /// It speaks one of the asked languages (a service that lists none speaks Italian).
    pub speaks: bool,
    /// Nearness of its nearest site.
    pub nearness: Nearness,
    /// A site in person only farther than the municipality but the service is also
    /// delivered remotely (HYBRID).
    pub hybrid: bool,
    /// Typical wait in days, if the service says.
    pub typical_wait_days: Option<i32>,
    /// Open places, if the service counts them.
    pub open_places: Option<i32>,
    /// A protocol in force binds the sender and the provider over the municipality
    /// (None: no sender named).
    pub protocol: Option<bool>,
    /// The person's age, if given.
    pub age: Option<i32>,
    /// The service's minimum age.
    pub minimum_age: Option<i32>,
    /// The service's maximum age.
    pub maximum_age: Option<i32>,
    /// Target groups asked.
    pub groups_asked: bool,
    /// The service is reserved to target groups.
    pub restricted: bool,
    /// The service is for one of the asked target groups.
    pub targets: bool,
}

/// One component of a score: its value (0 to 1), its weight and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    /// The component.
    pub component: Component,
    /// Its value, from 0 (worst) to 1 (best).
    pub value: f64,
    /// Its weight.
    pub weight: f64,
    /// Why it has this value, for people.
    pub explanation: String,
}

/// Why a service is not a candidate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exclusion {
    /// The gate, as `sendReferral` names it.
    pub code: FieldErrorCode,
    /// Why, for people.
    pub message: String,
}

/// The age is outside `[minimum, maximum]` (bounds that are set).
pub fn outside_age_range(age: i32, minimum: Option<i32>, maximum: Option<i32>) -> bool {
    minimum.is_some_and(|min| age < min) || maximum.is_some_and(|max| age > max)
}

/// A service reserved to target groups (`service_groups` not empty) is not for a person
/// whose known groups (`person_groups`, not empty) it does not name.
pub fn outside_target_groups(service_groups: &[String], person_groups: &[String]) -> bool {
    !service_groups.is_empty()
        && !person_groups.is_empty()
        && !service_groups.iter().any(|g| person_groups.contains(g))
}

/// The gates a service fails for the person, in the order `sendReferral` checks them.
pub fn exclusions(facts: &Facts) -> Vec<Exclusion> {
    let mut out = Vec::new();
    let mut exclude = |code, message: &str| {
        out.push(Exclusion {
            code,
            message: message.to_owned(),
        })
    };
    if !facts.active {
        exclude(
            FieldErrorCode::ServiceNotActive,
            "the service is not ACTIVE",
        );
    }
    if !facts.covers_area {
        exclude(
            FieldErrorCode::OutsideServiceArea,
            "the service's area does not cover the municipality",
        );
    }
    if facts
        .age
        .is_some_and(|age| outside_age_range(age, facts.minimum_age, facts.maximum_age))
    {
        exclude(
            FieldErrorCode::OutsideAgeRange,
            "the age is outside the service's age range",
        );
    }
    if facts.groups_asked && facts.restricted && !facts.targets {
        exclude(
            FieldErrorCode::OutsideTargetGroups,
            "the service is reserved to target groups the person does not belong to",
        );
    }
    out
}

fn part(component: Component, weights: &Weights, value: f64, explanation: &str) -> Part {
    let weight = weights
        .each()
        .iter()
        .find(|(c, _)| *c == component)
        .map_or(0.0, |(_, w)| *w);
    Part {
        component,
        value,
        weight,
        explanation: explanation.to_owned(),
    }
}

/// The components of a service's score, each with its value, weight and explanation.
pub fn parts(facts: &Facts, weights: &Weights) -> Vec<Part> {
    let mut out = Vec::with_capacity(8);
    let needs = if facts.needs_asked == 0 {
        0.0
    } else {
        facts.needs_addressed as f64 / facts.needs_asked as f64
    };
    out.push(part(
        Component::Need,
        weights,
        needs,
        &format!(
            "its types address {} of the {} needs",
            facts.needs_addressed, facts.needs_asked
        ),
    ));
    out.push(if facts.covers_area {
        part(
            Component::Area,
            weights,
            1.0,
            "its area covers the municipality",
        )
    } else {
        part(
            Component::Area,
            weights,
            0.0,
            "its area does not cover the municipality",
        )
    });
    out.push(match (facts.languages_asked, facts.speaks) {
        (false, _) => part(Component::Language, weights, 1.0, "no language asked"),
        (true, true) => part(
            Component::Language,
            weights,
            1.0,
            "it speaks one of the languages",
        ),
        (true, false) => part(
            Component::Language,
            weights,
            0.0,
            "it speaks none of the languages",
        ),
    });
    let (near, why) = match facts.nearness {
        Nearness::Remote => (1.0, "it is delivered remotely"),
        Nearness::Municipality => (1.0, "it has a site in the municipality"),
        Nearness::Zone => (2.0 / 3.0, "its nearest site is in the municipality's zone"),
        Nearness::Province => (
            1.0 / 3.0,
            "its nearest site is in the municipality's province",
        ),
        Nearness::Far => (0.0, "it has no site in the municipality's province"),
    };
    out.push(if facts.hybrid && near < 0.5 {
        part(
            Component::Distance,
            weights,
            0.5,
            "its sites are far but it is also delivered remotely",
        )
    } else {
        part(Component::Distance, weights, near, why)
    });
    let horizon = f64::from(weights.wait_horizon_days);
    out.push(match facts.typical_wait_days {
        None => part(
            Component::Wait,
            weights,
            0.5,
            "its typical wait is not known",
        ),
        Some(days) => part(
            Component::Wait,
            weights,
            (1.0 - f64::from(days.max(0)) / horizon).max(0.0),
            &format!("it typically waits {days} days (0 at {horizon} days or more)"),
        ),
    });
    out.push(match facts.open_places {
        None => part(
            Component::Capacity,
            weights,
            0.5,
            "it does not count its places",
        ),
        Some(places) if places > 0 => part(
            Component::Capacity,
            weights,
            1.0,
            &format!("it has {places} open places"),
        ),
        Some(_) => part(
            Component::Capacity,
            weights,
            0.0,
            "it has no open place (a referral would wait)",
        ),
    });
    out.push(match facts.protocol {
        None => part(Component::Protocol, weights, 0.0, "no sender named"),
        Some(true) => part(
            Component::Protocol,
            weights,
            1.0,
            "a protocol in force binds the sender and the provider over the municipality",
        ),
        Some(false) => part(
            Component::Protocol,
            weights,
            0.0,
            "no protocol in force binds the sender and the provider over the municipality",
        ),
    });
    out.push(
        match (facts.restricted, facts.groups_asked, facts.targets) {
            (true, true, true) => part(
                Component::Eligibility,
                weights,
                1.0,
                "it is for one of the person's target groups",
            ),
            (true, _, _) => part(
                Component::Eligibility,
                weights,
                0.5,
                "it is reserved to target groups (the person's are not given)",
            ),
            (false, _, _) => part(
                Component::Eligibility,
                weights,
                0.5,
                "it is open to everyone",
            ),
        },
    );
    out
}

/// The score of `parts`: their weighted mean, from 0 to 1.
pub fn score(parts: &[Part]) -> f64 {
    let total: f64 = parts.iter().map(|p| p.weight).sum();
    if total <= 0.0 {
        return 0.0;
    }
    parts.iter().map(|p| p.value * p.weight).sum::<f64>() / total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weights() -> Weights {
        Weights::from_settings(&Settings::default()).expect("default weights")
    }

    fn facts() -> Facts {
        Facts {
            active: true,
            covers_area: true,
            needs_addressed: 1,
            needs_asked: 1,
            languages_asked: false,
            speaks: false,
            nearness: Nearness::Municipality,
            hybrid: false,
            typical_wait_days: None,
            open_places: None,
            protocol: None,
            age: None,
            minimum_age: None,
            maximum_age: None,
            groups_asked: false,
            restricted: false,
            targets: false,
        }
    }

    #[test]
    fn the_default_weights_are_valid_and_a_bad_one_is_named() {
        assert!(Weights::from_settings(&Settings::default()).is_ok());
        let negative = Settings {
            match_weight_wait: -1.0,
            ..Settings::default()
        };
        let error = Weights::from_settings(&negative).expect_err("negative weight");
        assert!(error.contains("match_weight_wait"), "{error}");
        let none = Settings {
            match_weight_need: 0.0,
            match_weight_area: 0.0,
            match_weight_language: 0.0,
            match_weight_distance: 0.0,
            match_weight_wait: 0.0,
            match_weight_capacity: 0.0,
            match_weight_protocol: 0.0,
            match_weight_eligibility: 0.0,
            ..Settings::default()
        };
        assert!(Weights::from_settings(&none).is_err());
    }

    #[test]
    fn a_score_is_the_weighted_mean_of_its_parts() {
        let weights = weights();
        let all_best = Facts {
            languages_asked: true,
            speaks: true,
            typical_wait_days: Some(0),
            open_places: Some(3),
            protocol: Some(true),
            groups_asked: true,
            restricted: true,
            targets: true,
            ..facts()
        };
        let parts = parts(&all_best, &weights);
        assert_eq!(parts.len(), 8);
        assert!((score(&parts) - 1.0).abs() < 1e-9, "{parts:?}");
        let worse = Facts {
            typical_wait_days: Some(30),
            ..all_best
        };
        let halved = super::parts(&worse, &weights);
        let wait = halved
            .iter()
            .find(|p| p.component == Component::Wait)
            .expect("wait part");
        assert!((wait.value - 0.5).abs() < 1e-9);
        let total: f64 = weights.each().iter().map(|(_, w)| w).sum();
        assert!((score(&halved) - (1.0 - 0.5 * weights.wait / total)).abs() < 1e-9);
    }

    #[test]
    fn each_failed_gate_is_an_exclusion_in_check_order() {
        let failing = Facts {
            active: false,
            covers_area: false,
            age: Some(17),
            minimum_age: Some(18),
            groups_asked: true,
            restricted: true,
            targets: false,
            ..facts()
        };
        let codes: Vec<_> = exclusions(&failing).into_iter().map(|e| e.code).collect();
        assert_eq!(
            codes,
            [
                FieldErrorCode::ServiceNotActive,
                FieldErrorCode::OutsideServiceArea,
                FieldErrorCode::OutsideAgeRange,
                FieldErrorCode::OutsideTargetGroups,
            ]
        );
        // Unknown age or groups exclude nothing.
        let unknown = Facts {
            minimum_age: Some(18),
            restricted: true,
            ..facts()
        };
        assert!(exclusions(&unknown).is_empty());
    }

    #[test]
    fn target_groups_exclude_only_a_known_person_outside_them() {
        let migrants = vec!["MIGRANTS".to_owned()];
        let young = vec!["YOUNG_PEOPLE".to_owned()];
        assert!(outside_target_groups(&migrants, &young));
        assert!(!outside_target_groups(&migrants, &migrants));
        assert!(!outside_target_groups(&migrants, &[]));
        assert!(!outside_target_groups(&[], &young));
    }
}
