//! Loads the reference taxonomy terms every install has: the MeLT guidelines' service
//! types and the national essential levels of labour services (LEP, D.M. 4/2018), target
//! groups, needs and languages (ISO 639-1). All terms are flat (`parent_id` NULL).
//!
//! Codes are stable identifiers that clients and the seed refer to: never rename one,
//! add a new term instead.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// One reference term: `(code, label_it, label_en, description)`.
pub(crate) type TermRow = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
);

/// The nine service types of the MeLT guidelines, followed by the national essential
/// levels of labour services (LEP, D.M. 4/2018 and D.Lgs. 150/2015, art. 18), prefixed
/// `LEP_`.
const SERVICE_TYPES: &[TermRow] = &[
    (
        "RECEPTION_INFORMATION",
        "Accoglienza e informazione",
        "Reception and information",
        Some(
            "Primo contatto con la persona: ascolto, informazioni sui servizi della rete e invio al servizio più adatto.",
        ),
    ),
    (
        "SKILLS_ASSESSMENT",
        "Bilancio di competenze",
        "Skills assessment",
        Some(
            "Ricostruzione delle competenze formali, non formali e informali della persona e delle sue risorse per il lavoro.",
        ),
    ),
    (
        "INDIVIDUAL_PLAN",
        "Piano individualizzato",
        "Individual plan",
        Some(
            "Definizione condivisa con la persona di obiettivi, azioni, tempi e servizi coinvolti nel percorso di inclusione.",
        ),
    ),
    (
        "TUTORING",
        "Tutoraggio",
        "Tutoring",
        Some(
            "Affiancamento continuativo della persona da parte di un tutor lungo il percorso e nei passaggi tra servizi.",
        ),
    ),
    (
        "COACHING",
        "Coaching",
        "Coaching",
        Some(
            "Percorso individuale o di gruppo per rafforzare motivazione, autonomia e capacità di raggiungere obiettivi.",
        ),
    ),
    (
        "GUIDANCE_COUNSELLING",
        "Counselling orientativo",
        "Guidance counselling",
        Some(
            "Colloqui orientativi per sostenere la persona nelle scelte formative e professionali.",
        ),
    ),
    (
        "SKILLS_DEVELOPMENT_GUIDANCE",
        "Orientamento alla formazione e allo sviluppo delle competenze",
        "Guidance towards training and skills development",
        Some(
            "Orientamento verso percorsi di formazione, riqualificazione e certificazione delle competenze.",
        ),
    ),
    (
        "JOB_ORIENTATION",
        "Orientamento al lavoro",
        "Job orientation",
        Some(
            "Conoscenza del mercato del lavoro locale, dei canali di ricerca e degli strumenti di candidatura.",
        ),
    ),
    (
        "JOB_ACCOMPANIMENT",
        "Accompagnamento al lavoro",
        "Job accompaniment",
        Some(
            "Sostegno nella ricerca attiva, nell'incontro con le imprese e nell'inserimento lavorativo.",
        ),
    ),
    (
        "LEP_RECEPTION",
        "LEP - Accoglienza e prima informazione",
        "LEP - Reception and first information",
        Some(
            "Livello essenziale delle prestazioni (D.M. 4/2018): accoglienza e prima informazione sui servizi per il lavoro.",
        ),
    ),
    (
        "LEP_PROFILING",
        "LEP - DID, profilazione e scheda anagrafico-professionale",
        "LEP - Unemployment declaration, profiling and professional record",
        Some(
            "Dichiarazione di immediata disponibilità, profilazione quantitativa e qualitativa, aggiornamento della scheda anagrafico-professionale.",
        ),
    ),
    (
        "LEP_BASIC_GUIDANCE",
        "LEP - Orientamento di base",
        "LEP - Basic guidance",
        None,
    ),
    (
        "LEP_SERVICE_AGREEMENT",
        "LEP - Patto di servizio personalizzato",
        "LEP - Personalised service agreement",
        Some(
            "Stipula del patto di servizio personalizzato tra la persona e il centro per l'impiego.",
        ),
    ),
    (
        "LEP_SPECIALIST_GUIDANCE",
        "LEP - Orientamento specialistico",
        "LEP - Specialist guidance",
        Some(
            "Orientamento specialistico e individualizzato, anche mediante bilancio delle competenze.",
        ),
    ),
    (
        "LEP_JOB_PLACEMENT",
        "LEP - Accompagnamento al lavoro e incontro domanda-offerta",
        "LEP - Job placement and matching",
        Some(
            "Supporto all'inserimento o reinserimento lavorativo e incontro tra domanda e offerta di lavoro.",
        ),
    ),
    (
        "LEP_TRAINEESHIP",
        "LEP - Tirocini",
        "LEP - Traineeships",
        Some("Promozione e attivazione di tirocini extracurricolari."),
    ),
    (
        "LEP_TRAINING_REFERRAL",
        "LEP - Avviamento a formazione",
        "LEP - Referral to training",
        Some(
            "Avviamento ad attività di formazione per la qualificazione e riqualificazione professionale.",
        ),
    ),
    (
        "LEP_SELF_EMPLOYMENT",
        "LEP - Sostegno al lavoro autonomo",
        "LEP - Self-employment support",
        Some("Gestione di incentivi all'attività di lavoro autonomo e all'autoimprenditorialità."),
    ),
    (
        "LEP_MOBILITY",
        "LEP - Mobilità territoriale",
        "LEP - Geographical mobility",
        Some("Gestione di incentivi alla mobilità territoriale, anche nella rete EURES."),
    ),
    (
        "LEP_WORK_LIFE_BALANCE",
        "LEP - Conciliazione dei tempi di vita e di lavoro",
        "LEP - Work-life balance",
        Some("Gestione di strumenti per conciliare i tempi di lavoro con gli obblighi di cura."),
    ),
    (
        "LEP_DISABILITY_PLACEMENT",
        "LEP - Collocamento mirato (L. 68/1999)",
        "LEP - Targeted placement of people with disabilities (Law 68/1999)",
        Some(
            "Servizi di collocamento mirato per le persone con disabilità e le categorie protette.",
        ),
    ),
    (
        "LEP_CONDITIONALITY",
        "LEP - Gestione della condizionalità",
        "LEP - Conditionality management",
        Some(
            "Verifica degli impegni di attivazione collegati alle prestazioni di sostegno al reddito.",
        ),
    ),
];

/// Groups of people the network's services are aimed at.
const TARGET_GROUPS: &[TermRow] = &[
    (
        "FOREIGN_NATIONALS",
        "Cittadini stranieri",
        "Foreign nationals",
        None,
    ),
    (
        "REFUGEES_ASYLUM_SEEKERS",
        "Rifugiati e richiedenti asilo",
        "Refugees and asylum seekers",
        Some("Titolari di protezione internazionale o speciale e richiedenti asilo."),
    ),
    (
        "LONG_TERM_UNEMPLOYED",
        "Disoccupati di lunga durata",
        "Long-term unemployed",
        Some("Persone disoccupate da almeno dodici mesi."),
    ),
    (
        "NEET_YOUTH",
        "Giovani NEET",
        "NEET youth",
        Some("Giovani che non studiano, non lavorano e non sono in formazione."),
    ),
    (
        "PEOPLE_WITH_DISABILITIES",
        "Persone con disabilità (L. 68/1999)",
        "People with disabilities (Law 68/1999)",
        None,
    ),
    (
        "INCOME_SUPPORT_RECIPIENTS",
        "Beneficiari di misure di sostegno al reddito (ADI/SFL)",
        "Income-support recipients (ADI/SFL)",
        Some(
            "Nuclei beneficiari dell'Assegno di inclusione o del Supporto per la formazione e il lavoro.",
        ),
    ),
    (
        "SURVIVORS_OF_VIOLENCE",
        "Donne e persone vittime di violenza",
        "Survivors of violence",
        None,
    ),
    (
        "PEOPLE_LEAVING_PRISON",
        "Persone in uscita dal circuito penale",
        "People leaving prison",
        Some("Persone detenute, in misura alternativa o dimesse dal carcere."),
    ),
    (
        "HOMELESS_PEOPLE",
        "Persone senza dimora",
        "Homeless people",
        None,
    ),
    (
        "OLDER_WORKERS",
        "Lavoratori over 50",
        "Older workers",
        Some(
            "Persone con più di 50 anni espulse o a rischio di espulsione dal mercato del lavoro.",
        ),
    ),
    ("SINGLE_PARENTS", "Genitori soli", "Single parents", None),
    (
        "PEOPLE_WITH_ADDICTIONS",
        "Persone con dipendenze",
        "People with addictions",
        Some("Persone in carico ai servizi per le dipendenze (SerD)."),
    ),
];

/// Needs recorded in an assessment and matched to services.
const NEEDS: &[TermRow] = &[
    ("EMPLOYMENT", "Lavoro", "Employment", None),
    ("TRAINING", "Formazione", "Training", None),
    ("LANGUAGE", "Lingua italiana", "Italian language", None),
    ("HOUSING", "Casa", "Housing", None),
    ("INCOME", "Reddito", "Income", None),
    ("HEALTH", "Salute", "Health", None),
    ("CHILDCARE", "Cura dei figli", "Childcare", None),
    (
        "LEGAL",
        "Assistenza legale e documenti",
        "Legal aid and documents",
        None,
    ),
    (
        "SOCIAL_ISOLATION",
        "Isolamento sociale",
        "Social isolation",
        None,
    ),
    (
        "DISABILITY_SUPPORT",
        "Sostegno alla disabilità",
        "Disability support",
        None,
    ),
    (
        "DIGITAL_SKILLS",
        "Competenze digitali",
        "Digital skills",
        None,
    ),
    ("TRANSPORT", "Trasporti e mobilità", "Transport", None),
];

/// Languages services are offered in, coded ISO 639-1.
const LANGUAGES: &[TermRow] = &[
    ("it", "Italiano", "Italian", None),
    ("en", "Inglese", "English", None),
    ("fr", "Francese", "French", None),
    ("es", "Spagnolo", "Spanish", None),
    ("de", "Tedesco", "German", None),
    ("pt", "Portoghese", "Portuguese", None),
    ("ar", "Arabo", "Arabic", None),
    ("zh", "Cinese", "Chinese", None),
    ("ro", "Romeno", "Romanian", None),
    ("sq", "Albanese", "Albanian", None),
    ("uk", "Ucraino", "Ukrainian", None),
    ("ru", "Russo", "Russian", None),
    ("pl", "Polacco", "Polish", None),
    ("bn", "Bengalese", "Bengali", None),
    ("ur", "Urdu", "Urdu", None),
    ("pa", "Punjabi", "Punjabi", None),
    ("hi", "Hindi", "Hindi", None),
    ("si", "Singalese", "Sinhala", None),
    ("ta", "Tamil", "Tamil", None),
    ("wo", "Wolof", "Wolof", None),
    ("ff", "Fula", "Fula", None),
    ("bm", "Bambara", "Bambara", None),
    ("yo", "Yoruba", "Yoruba", None),
    ("tl", "Tagalog", "Tagalog", None),
    ("ti", "Tigrino", "Tigrinya", None),
    ("so", "Somalo", "Somali", None),
    ("am", "Amarico", "Amharic", None),
    ("fa", "Persiano", "Persian", None),
    ("ps", "Pashto", "Pashto", None),
    ("tr", "Turco", "Turkish", None),
    ("ka", "Georgiano", "Georgian", None),
];

/// Every taxonomy loaded here with its terms, as stored in `term.taxonomy`.
const TAXONOMIES: &[(&str, &[TermRow])] = &[
    ("SERVICE_TYPE", SERVICE_TYPES),
    ("TARGET_GROUP", TARGET_GROUPS),
    ("NEED", NEEDS),
    ("LANGUAGE", LANGUAGES),
];

/// Columns of `term` written by this migration.
const COLUMNS: [&str; 9] = [
    "id",
    "taxonomy",
    "code",
    "label_it",
    "label_en",
    "description",
    "parent_id",
    "created_at",
    "updated_at",
];

/// One multi-row `INSERT` of all the terms of a taxonomy.
pub(crate) fn insert_taxonomy(taxonomy: &str, rows: &[TermRow]) -> Result<InsertStatement, DbErr> {
    let now = chrono::Utc::now();
    let mut stmt = Query::insert();
    stmt.into_table(Alias::new("term"))
        .columns(COLUMNS.map(Alias::new));
    for &(code, label_it, label_en, description) in rows {
        stmt.values([
            uuid::Uuid::now_v7().into(),
            taxonomy.into(),
            code.into(),
            label_it.into(),
            label_en.into(),
            description.map(str::to_owned).into(),
            Option::<uuid::Uuid>::None.into(),
            now.into(),
            now.into(),
        ])
        .map_err(|e| DbErr::Migration(format!("taxonomy {taxonomy}, term {code}: {e}")))?;
    }
    Ok(stmt.to_owned())
}

/// Deletes the terms of a taxonomy that [`insert_taxonomy`] loaded.
pub(crate) fn delete_taxonomy(taxonomy: &str, rows: &[TermRow]) -> DeleteStatement {
    Query::delete()
        .from_table(Alias::new("term"))
        .and_where(Expr::col(Alias::new("taxonomy")).eq(taxonomy))
        .and_where(Expr::col(Alias::new("code")).is_in(rows.iter().map(|row| row.0)))
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for &(taxonomy, rows) in TAXONOMIES {
            m.exec_stmt(insert_taxonomy(taxonomy, rows)?).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for &(taxonomy, rows) in TAXONOMIES.iter().rev() {
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
        for &(taxonomy, rows) in TAXONOMIES {
            let mut seen = HashSet::new();
            for row in rows {
                assert!(seen.insert(row.0), "duplicate code {} in {taxonomy}", row.0);
            }
        }
    }

    #[test]
    fn service_types_are_the_nine_of_the_guidelines_plus_lep() {
        let (guidelines, lep): (Vec<&TermRow>, Vec<&TermRow>) = SERVICE_TYPES
            .iter()
            .partition(|row| !row.0.starts_with("LEP_"));
        assert_eq!(guidelines.len(), 9);
        assert!(lep.len() >= 10);
    }

    #[test]
    fn language_codes_are_iso_639_1() {
        for row in LANGUAGES {
            assert_eq!(row.0.len(), 2, "{}", row.0);
            assert!(row.0.chars().all(|c| c.is_ascii_lowercase()), "{}", row.0);
        }
    }
}
