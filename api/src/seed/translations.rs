//! Translations of the demo network: a few services, taxonomy terms and one
//! organization in Arabic, Romanian, Ukrainian and English (text written for the demo,
//! translating the demo's own Italian text; the languages are those its services
//! declare they speak).

use entity::enums::Taxonomy;

/// The texts of one object in one language (`None`: not translated).
pub struct Texts {
    /// ISO 639-1 code.
    pub language: &'static str,
    pub name: Option<&'static str>,
    pub description: Option<&'static str>,
    pub eligibility: Option<&'static str>,
    pub application: Option<&'static str>,
    pub fees: Option<&'static str>,
}

/// Only a name (a label).
const fn name(language: &'static str, name: &'static str) -> Texts {
    Texts {
        language,
        name: Some(name),
        description: None,
        eligibility: None,
        application: None,
        fees: None,
    }
}

/// A name and a description.
const fn described(language: &'static str, name: &'static str, description: &'static str) -> Texts {
    Texts {
        language,
        name: Some(name),
        description: Some(description),
        eligibility: None,
        application: None,
        fees: None,
    }
}

/// Services, by their Italian name in [`super::data::SERVICES`].
pub const SERVICES: &[(&str, &[Texts])] = &[
    (
        "Sportello Accoglienza e Informazione Lavoro della Città di Firenze",
        &[
            Texts {
                language: "ar",
                name: Some("مكتب الاستقبال والمعلومات حول العمل لمدينة فلورنسا"),
                description: Some(
                    "استماع أولي ومعلومات حول الخدمات الاجتماعية والعمل والتدريب لمن يعيش في فلورنسا؛ توجيه إلى خدمات شبكة MeLT وحجز المقابلات مع مركز التوظيف.",
                ),
                eligibility: Some("الأشخاص المقيمون أو الساكنون في بلدية فلورنسا."),
                application: Some("دخول حر خلال ساعات العمل، دون موعد مسبق."),
                fees: Some("مجاني"),
            },
            Texts {
                language: "en",
                name: Some("Florence Job Reception and Information Desk"),
                description: Some(
                    "First hearing and information on social services, work and training for people living in Florence; guidance to the services of the MeLT network and booking of interviews with the employment centre.",
                ),
                eligibility: Some("People resident or domiciled in the Municipality of Florence."),
                application: Some("Walk in during opening hours, no appointment needed."),
                fees: Some("Free of charge"),
            },
        ],
    ),
    (
        "Centro d'ascolto per persone senza dimora",
        &[
            Texts {
                language: "ar",
                name: Some("مركز الاستماع للأشخاص بلا مأوى"),
                description: Some(
                    "استماع واستقبال أولي ومرافقة إلى الخدمات الاجتماعية والصحية للأشخاص بلا مأوى أو في حالة تهميش شديد؛ عنوان بريدي ومساعدة في الوثائق.",
                ),
                eligibility: Some(
                    "الأشخاص بلا مأوى أو الذين يعانون من صعوبات سكنية شديدة والموجودون في منطقة فلورنسا.",
                ),
                application: Some("دخول حر خلال ساعات العمل، دون موعد مسبق."),
                fees: Some("مجاني"),
            },
            Texts {
                language: "ro",
                name: Some("Centru de ascultare pentru persoanele fără adăpost"),
                description: Some(
                    "Ascultare, primă primire și însoțire către serviciile sociale și medicale pentru persoanele fără adăpost sau aflate în marginalizare gravă; adresă poștală și sprijin pentru acte.",
                ),
                eligibility: Some(
                    "Persoane fără adăpost sau cu dificultăți grave de locuire aflate pe teritoriul Florenței.",
                ),
                application: Some("Acces liber în timpul programului, fără programare."),
                fees: Some("Gratuit"),
            },
            described(
                "en",
                "Listening centre for homeless people",
                "Listening, first reception and accompaniment to social and health services for homeless people or people in severe marginalisation; a postal address and help with documents.",
            ),
        ],
    ),
    (
        "Counselling orientativo",
        &[
            Texts {
                language: "uk",
                name: Some("Консультування з професійної орієнтації"),
                description: Some(
                    "Консультаційні зустрічі з професійної орієнтації для тих, хто має переосмислити свій професійний шлях після втрати роботи або прибуття до Італії.",
                ),
                eligibility: Some("Особи, які шукають роботу та проживають у провінції Ліворно."),
                application: Some(
                    "Запис через регіональний портал служб зайнятості або безпосередньо в центрі зайнятості.",
                ),
                fees: Some("Безкоштовно"),
            },
            described(
                "en",
                "Career guidance counselling",
                "Career guidance counselling sessions for people who need to rethink their career after losing their job or arriving in Italy.",
            ),
        ],
    ),
    (
        "Orientamento al lavoro in Valdarno, Casentino e Valdichiana",
        &[Texts {
            language: "ro",
            name: Some("Orientare profesională în Valdarno, Casentino și Valdichiana"),
            description: Some(
                "Ateliere și întâlniri despre piața muncii din zona Arezzo: sectoarele care angajează, canalele de căutare, CV-ul și pregătirea pentru interviurile de selecție.",
            ),
            eligibility: Some(
                "Persoane în căutarea unui loc de muncă, cu reședința în provincia Arezzo.",
            ),
            application: None,
            fees: Some("Gratuit"),
        }],
    ),
];

/// Taxonomy terms (their English labels are the terms' own).
pub const TERMS: &[(Taxonomy, &str, &[Texts])] = &[
    (
        Taxonomy::ServiceType,
        "RECEPTION_INFORMATION",
        &[
            described(
                "ar",
                "الاستقبال والمعلومات",
                "أول اتصال مع الشخص: الاستماع، ومعلومات حول خدمات الشبكة، والتوجيه إلى الخدمة الأنسب.",
            ),
            described(
                "ro",
                "Primire și informare",
                "Primul contact cu persoana: ascultare, informații despre serviciile rețelei și trimiterea către serviciul cel mai potrivit.",
            ),
            described(
                "uk",
                "Прийом та інформування",
                "Перший контакт з людиною: вислуховування, інформація про послуги мережі та направлення до найбільш відповідної служби.",
            ),
        ],
    ),
    (
        Taxonomy::ServiceType,
        "JOB_ORIENTATION",
        &[
            name("ar", "التوجيه نحو العمل"),
            name("ro", "Orientare profesională"),
            name("uk", "Професійна орієнтація"),
        ],
    ),
    (
        Taxonomy::TargetGroup,
        "FOREIGN_NATIONALS",
        &[
            name("ar", "المواطنون الأجانب"),
            name("ro", "Cetățeni străini"),
            name("uk", "Іноземні громадяни"),
        ],
    ),
    (
        Taxonomy::TargetGroup,
        "REFUGEES_ASYLUM_SEEKERS",
        &[
            name("ar", "اللاجئون وطالبو اللجوء"),
            name("ro", "Refugiați și solicitanți de azil"),
            name("uk", "Біженці та шукачі притулку"),
        ],
    ),
    (
        Taxonomy::TargetGroup,
        "HOMELESS_PEOPLE",
        &[
            name("ar", "الأشخاص بلا مأوى"),
            name("ro", "Persoane fără adăpost"),
            name("uk", "Бездомні люди"),
        ],
    ),
];

/// Organizations, by their key in [`super::data::ORGANIZATIONS`].
pub const ORGANIZATIONS: &[(&str, &[Texts])] = &[(
    "COMUNE_FIRENZE",
    &[
        name("en", "Municipality of Florence"),
        name("ar", "بلدية فلورنسا"),
    ],
)];

#[cfg(test)]
mod tests {
    use super::super::data;
    use super::*;

    #[test]
    fn demo_translations_name_demo_services_and_real_languages() {
        for (service, translations) in SERVICES {
            assert!(
                data::SERVICES.iter().any(|s| s.name == *service),
                "{service}"
            );
            for texts in *translations {
                assert!(crate::translation::domain::LanguageCode::parse(texts.language).is_some());
            }
        }
        for (key, _) in ORGANIZATIONS {
            assert!(data::ORGANIZATIONS.iter().any(|o| o.key == *key), "{key}");
        }
    }
}
