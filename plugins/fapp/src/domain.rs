//! The domain vocabulary: what a therapist offers and what a patient looks for.
//!
//! Owns: [`Fachrichtung`] (specialism), [`Modalitaet`] (how sessions take
//! place), [`Kostentraeger`] (who pays), [`SlotType`] and [`Mask`], the
//! bit set they travel in. The German names are the real terms of the German
//! psychotherapy system the protocol was designed for; each has an English
//! doc comment and English aliases for operators.
//!
//! On the wire every set is one unsigned integer (bit `n` = the variant with
//! code `n`), so a therapist's four specialisms cost one or two bytes and a
//! filter check is one AND. Unknown bits (codes added by a later version) are
//! kept and forwarded: the announce is signed, so relays must not drop them.

use core::fmt;

/// A set of codes (0..=31) of one of the domain enums, one bit per code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, PartialOrd, Ord)]
pub struct Mask(pub u32);

impl Mask {
    /// The empty set. In a query filter it means "any".
    pub const EMPTY: Mask = Mask(0);

    /// Whether no bit is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether the two sets share a member.
    pub fn intersects(self, other: Mask) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether code `code` is in the set.
    pub fn contains(self, code: u8) -> bool {
        code < 32 && self.0 & (1 << code) != 0
    }

    /// The set with `code` added.
    pub fn with(self, code: u8) -> Mask {
        if code < 32 { Mask(self.0 | (1 << code)) } else { self }
    }

    /// The codes in the set, ascending.
    pub fn codes(self) -> impl Iterator<Item = u8> {
        (0u8..32).filter(move |c| self.contains(*c))
    }
}

/// A closed list of named codes: the shared behaviour of the domain enums.
pub trait Vocabulary: Sized + Copy + 'static {
    /// What the list is called, for error messages.
    const WHAT: &'static str;
    /// Every variant with its code and the names operators may use (the
    /// first name is the German one used in listings).
    const ALL: &'static [(Self, u8, &'static [&'static str])];

    /// The wire code.
    fn code(self) -> u8 {
        Self::ALL.iter().find(|(v, ..)| v.same(self)).map_or(0, |(_, c, _)| *c)
    }

    /// The variant with wire code `code`, if this version knows it.
    fn from_code(code: u8) -> Option<Self> {
        Self::ALL.iter().find(|(_, c, _)| *c == code).map(|(v, ..)| *v)
    }

    /// The listing name (German).
    fn name(self) -> &'static str {
        Self::ALL.iter().find(|(v, ..)| v.same(self)).map_or("?", |(_, _, names)| names[0])
    }

    /// Parses any of the variant's names (case-insensitive; `-` and ` ` count as `_`).
    fn parse(text: &str) -> Result<Self, String> {
        let wanted = normalise(text);
        Self::ALL.iter().find(|(_, _, names)| names.iter().any(|n| *n == wanted)).map(|(v, ..)| *v).ok_or_else(|| {
            let known: Vec<&str> = Self::ALL.iter().flat_map(|(_, _, names)| names.iter().copied()).collect();
            format!("unknown {} {text:?} (known: {})", Self::WHAT, known.join(", "))
        })
    }

    /// Equality without requiring `PartialEq` on the implementor.
    fn same(self, other: Self) -> bool;

    /// Parses a list of names into a set.
    fn parse_set<S: AsRef<str>>(names: &[S]) -> Result<Mask, String> {
        names.iter().try_fold(Mask::EMPTY, |m, n| Ok(m.with(Self::parse(n.as_ref())?.code())))
    }

    /// The listing names of the set's members; unknown codes as `#code`.
    fn set_names(mask: Mask) -> Vec<String> {
        mask.codes().map(|c| Self::from_code(c).map_or_else(|| format!("#{c}"), |v| v.name().to_string())).collect()
    }
}

fn normalise(text: &str) -> String {
    text.trim().to_lowercase().replace(['-', ' '], "_").replace('ä', "ae").replace('ö', "oe").replace('ü', "ue")
}

macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($(#[$vdoc:meta])* $variant:ident = $code:literal [$($alias:literal),+]),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl Vocabulary for $name {
            const WHAT: &'static str = $what;
            const ALL: &'static [(Self, u8, &'static [&'static str])] = &[$(($name::$variant, $code, &[$($alias),+])),+];
            fn same(self, other: Self) -> bool {
                self == other
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

vocabulary! {
    /// Specialism (Fachrichtung): the therapy method or patient group a
    /// therapist is licensed and trained for.
    Fachrichtung, "specialism" {
        /// Cognitive behavioural therapy.
        Verhaltenstherapie = 0 ["verhaltenstherapie", "vt", "cbt", "behavioural"],
        /// Psychodynamic (depth-psychology based) therapy.
        TiefenpsychologischFundiert = 1 ["tiefenpsychologie", "tp", "psychodynamic"],
        /// Psychoanalysis.
        Psychoanalyse = 2 ["psychoanalyse", "ap", "psychoanalysis"],
        /// Systemic therapy.
        Systemisch = 3 ["systemisch", "st", "systemic"],
        /// Trauma therapy.
        Traumatherapie = 4 ["traumatherapie", "trauma"],
        /// Children and adolescents.
        KinderJugend = 5 ["kinder_jugend", "kjp", "child_adolescent", "children"],
        /// Addiction.
        Sucht = 6 ["sucht", "addiction"],
        /// Neuropsychology.
        Neuropsychologie = 7 ["neuropsychologie", "neuropsychology"],
    }
}

vocabulary! {
    /// How sessions take place (Modalität). "Hybrid" is the set {Praxis, Video}.
    Modalitaet, "modality" {
        /// In person, at the practice.
        Praxis = 0 ["praxis", "in_person", "presence"],
        /// Video call.
        Video = 1 ["video"],
        /// Telephone.
        Telefon = 2 ["telefon", "phone"],
    }
}

vocabulary! {
    /// Who pays (Kostenträger).
    Kostentraeger, "payer" {
        /// Statutory health insurance (gesetzliche Krankenversicherung).
        Gesetzlich = 0 ["gkv", "gesetzlich", "statutory"],
        /// Private health insurance (private Krankenversicherung).
        Privat = 1 ["pkv", "privat", "private"],
        /// The patient pays.
        Selbstzahler = 2 ["selbstzahler", "self_pay"],
    }
}

vocabulary! {
    /// What a time slot is for.
    SlotType, "slot type" {
        /// First consultation (psychotherapeutische Sprechstunde).
        Erstgespraech = 0 ["erstgespraech", "sprechstunde", "first_consultation", "first"],
        /// Trial sessions before a therapy is applied for.
        Probatorik = 1 ["probatorik", "trial"],
        /// A place in an ongoing therapy.
        Therapie = 2 ["therapie", "ongoing", "therapy"],
        /// Acute treatment (Akutbehandlung).
        Akut = 3 ["akut", "acute"],
        /// Group therapy.
        Gruppe = 4 ["gruppe", "group"],
    }
}

/// Parses a modality list, where `hybrid` stands for in person and video.
pub fn parse_modalities<S: AsRef<str>>(names: &[S]) -> Result<Mask, String> {
    names.iter().try_fold(Mask::EMPTY, |m, n| {
        if normalise(n.as_ref()) == "hybrid" {
            Ok(m.with(Modalitaet::Praxis.code()).with(Modalitaet::Video.code()))
        } else {
            Ok(m.with(Modalitaet::parse(n.as_ref())?.code()))
        }
    })
}

/// The listing name of a slot type code (`#code` for codes this version does not know).
pub fn slot_type_name(code: u8) -> String {
    SlotType::from_code(code).map_or_else(|| format!("#{code}"), |t| t.name().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_in_german_and_english() {
        assert_eq!(Fachrichtung::parse("CBT"), Ok(Fachrichtung::Verhaltenstherapie));
        assert_eq!(Fachrichtung::parse("Kinder-Jugend"), Ok(Fachrichtung::KinderJugend));
        assert_eq!(Kostentraeger::parse("self pay"), Ok(Kostentraeger::Selbstzahler));
        assert_eq!(SlotType::parse("Erstgespräch"), Ok(SlotType::Erstgespraech));
        assert!(Fachrichtung::parse("astrology").unwrap_err().contains("verhaltenstherapie"));
    }

    #[test]
    fn sets_keep_unknown_codes_and_hybrid_means_two_modalities() {
        let m = parse_modalities(&["hybrid"]).unwrap();
        assert_eq!(Modalitaet::set_names(m), ["praxis", "video"]);
        assert_eq!(Fachrichtung::set_names(Mask(1 | 1 << 30)), ["verhaltenstherapie", "#30"]);
        assert!(Mask(0b101).intersects(Mask(0b100)) && !Mask(0b101).intersects(Mask(0b010)));
    }
}
