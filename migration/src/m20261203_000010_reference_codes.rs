//! The coded reasons and outcomes of referrals, as taxonomies a front end can offer and
//! the API checks `reasonCode` against (before, any text was accepted), and the Italian
//! language course among the service types (the network's migrants need it first).
//!
//! Codes are stable identifiers: never rename one, add a new term instead.

use sea_orm_migration::prelude::*;

use crate::m20261128_000003_taxonomies::{TermRow, delete_taxonomy, insert_taxonomy};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Why a receiver rejects a referral.
const REJECTION_REASONS: &[TermRow] = &[
    (
        "NO_CAPACITY",
        "Nessun posto disponibile",
        "No capacity",
        None,
    ),
    (
        "NOT_ELIGIBLE",
        "Requisiti non soddisfatti",
        "Not eligible",
        None,
    ),
    (
        "OUTSIDE_AREA",
        "Fuori dall'area del servizio",
        "Outside the service area",
        None,
    ),
    (
        "NOT_APPROPRIATE",
        "Servizio non adatto al bisogno",
        "Service not appropriate for the need",
        None,
    ),
    (
        "PERSON_DECLINED",
        "La persona ha rifiutato",
        "The person declined",
        None,
    ),
    (
        "PERSON_UNREACHABLE",
        "Persona non raggiungibile",
        "The person could not be reached",
        None,
    ),
    (
        "DUPLICATE",
        "Segnalazione già ricevuta",
        "Duplicate referral",
        None,
    ),
    ("OTHER", "Altro", "Other", None),
];

/// Why a referral is cancelled.
const CANCELLATION_REASONS: &[TermRow] = &[
    (
        "PERSON_UNAVAILABLE",
        "Persona non disponibile",
        "The person is unavailable",
        None,
    ),
    (
        "PERSON_WITHDREW",
        "La persona ha rinunciato",
        "The person withdrew",
        None,
    ),
    (
        "NEED_RESOLVED",
        "Bisogno risolto",
        "The need was resolved",
        None,
    ),
    ("SENT_IN_ERROR", "Inviata per errore", "Sent in error", None),
    (
        "REFERRED_ELSEWHERE",
        "Inviata a un altro servizio",
        "Referred elsewhere",
        None,
    ),
    (
        "CONSENT_WITHDRAWN",
        "Consenso revocato",
        "Consent withdrawn",
        None,
    ),
    ("OTHER", "Altro", "Other", None),
];

/// Why a referral failed after it was accepted.
const FAILURE_REASONS: &[TermRow] = &[
    (
        "PERSON_UNAVAILABLE",
        "Persona non disponibile",
        "The person is unavailable",
        None,
    ),
    (
        "PERSON_DROPPED_OUT",
        "La persona ha abbandonato il percorso",
        "The person dropped out",
        None,
    ),
    (
        "SERVICE_INTERRUPTED",
        "Servizio interrotto",
        "The service was interrupted",
        None,
    ),
    (
        "NOT_SUITABLE",
        "Percorso non adatto",
        "The pathway was not suitable",
        None,
    ),
    ("OTHER", "Altro", "Other", None),
];

/// Why a referral is put on hold.
const HOLD_REASONS: &[TermRow] = &[
    (
        "PERSON_UNAVAILABLE",
        "Persona temporaneamente non disponibile",
        "The person is temporarily unavailable",
        None,
    ),
    (
        "WAITING_DOCUMENTS",
        "In attesa di documenti",
        "Waiting for documents",
        None,
    ),
    ("HEALTH", "Motivi di salute", "Health reasons", None),
    (
        "WAITING_PLACE",
        "In attesa di un posto",
        "Waiting for a place",
        None,
    ),
    ("OTHER", "Altro", "Other", None),
];

/// How a referral ended, as `completeReferral` records it (the `Outcome` enum's values).
const OUTCOMES: &[TermRow] = &[
    ("ENROLLED", "Presa in carico", "Enrolled", None),
    (
        "PATHWAY_COMPLETED",
        "Percorso concluso",
        "Pathway completed",
        None,
    ),
    ("EMPLOYED", "Occupata", "Employed", None),
    (
        "TRAINEESHIP_STARTED",
        "Tirocinio avviato",
        "Traineeship started",
        None,
    ),
    ("NOT_ELIGIBLE", "Non idonea", "Not eligible", None),
    ("UNREACHABLE", "Non raggiungibile", "Unreachable", None),
    ("REFUSED", "Ha rifiutato", "Refused", None),
    ("OTHER", "Altro", "Other", None),
];

/// The service type this migration adds.
const ITALIAN_COURSE: &[TermRow] = &[(
    "ITALIAN_LANGUAGE_COURSE",
    "Corso di lingua italiana",
    "Italian language course",
    Some(
        "Corsi di italiano per stranieri (L2), dall'alfabetizzazione ai livelli del QCER, con certificazione.",
    ),
)];

/// The terms this migration loads, by taxonomy as stored in `term.taxonomy`.
const TERMS: &[(&str, &[TermRow])] = &[
    ("REJECTION_REASON", REJECTION_REASONS),
    ("CANCELLATION_REASON", CANCELLATION_REASONS),
    ("FAILURE_REASON", FAILURE_REASONS),
    ("HOLD_REASON", HOLD_REASONS),
    ("OUTCOME", OUTCOMES),
    ("SERVICE_TYPE", ITALIAN_COURSE),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for &(taxonomy, rows) in TERMS {
            m.exec_stmt(insert_taxonomy(taxonomy, rows)?).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for &(taxonomy, rows) in TERMS.iter().rev() {
            m.exec_stmt(delete_taxonomy(taxonomy, rows)).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_within_each_taxonomy() {
        for &(taxonomy, rows) in TERMS {
            let mut seen = HashSet::new();
            for row in rows {
                assert!(seen.insert(row.0), "duplicate code {} in {taxonomy}", row.0);
            }
        }
    }
}
