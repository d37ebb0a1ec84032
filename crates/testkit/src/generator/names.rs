//! Names for generated people, places and teams: real-looking lists for demos, and synthetic
//! names (syllables) when a benchmark needs many distinct values with a skewed spread.

/// Region names: one city per region.
pub const CITIES: [&str; 25] = [
    "Boston",
    "Chicago",
    "Denver",
    "Austin",
    "Seattle",
    "Atlanta",
    "Toronto",
    "Montreal",
    "Mexico City",
    "Sao Paulo",
    "London",
    "Dublin",
    "Paris",
    "Berlin",
    "Madrid",
    "Milan",
    "Amsterdam",
    "Stockholm",
    "Warsaw",
    "Cape Town",
    "Dubai",
    "Mumbai",
    "Singapore",
    "Tokyo",
    "Sydney",
];

/// What a team does, the middle of its name ("Boston Sales 1").
pub const FUNCTIONS: [&str; 5] = ["Sales", "Support", "Onboarding", "Renewals", "Outbound"];

/// Common first names, most frequent first (see [`Rng::skewed`](super::Rng::skewed)).
pub const FIRST_NAMES: [&str; 64] = [
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Carlos",
    "Karen",
    "Daniel",
    "Lisa",
    "Matthew",
    "Nancy",
    "Anthony",
    "Sandra",
    "Mark",
    "Ashley",
    "Sofia",
    "Emily",
    "Andrew",
    "Michelle",
    "Joshua",
    "Amanda",
    "Kevin",
    "Melissa",
    "Brian",
    "Deborah",
    "Priya",
    "Stephanie",
    "Wei",
    "Rebecca",
    "Ahmed",
    "Laura",
    "Luca",
    "Emma",
    "Hiroshi",
    "Olivia",
    "Mateo",
    "Chloe",
    "Noah",
    "Fatima",
    "Liam",
    "Aisha",
    "Lucas",
    "Ingrid",
    "Omar",
    "Yuki",
    "Pierre",
    "Elena",
    "Diego",
    "Anna",
    "Raj",
    "Grace",
];

/// Common last names, most frequent first.
pub const LAST_NAMES: [&str; 64] = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Kowalski",
    "Muller",
    "Rossi",
    "Tanaka",
    "Schmidt",
    "Dubois",
    "Singh",
    "Kim",
    "Chen",
    "Okafor",
    "Novak",
    "Larsen",
    "Silva",
    "Haddad",
];

/// North American area codes for phone numbers.
pub const AREA_CODES: [u16; 8] = [212, 312, 415, 617, 646, 702, 206, 303];

/// Providers of the connections' personal addresses.
pub const MAIL_PROVIDERS: [&str; 5] = ["gmail.com", "outlook.com", "yahoo.com", "icloud.com", "proton.me"];

const SYLLABLES: [&str; 24] = [
    "ka", "ro", "len", "mar", "ti", "son", "ber", "ga", "lo", "vin", "da", "rek", "sa", "mi", "tor", "el", "an", "bru",
    "ne", "ha", "ric", "os", "wen", "ju",
];

/// Distinct synthetic first names (two syllables) and last names (three syllables).
pub const SYNTHETIC_FIRST_NAMES: usize = SYLLABLES.len() * SYLLABLES.len();
pub const SYNTHETIC_LAST_NAMES: usize = SYLLABLES.len() * SYLLABLES.len() * SYLLABLES.len();

/// Synthetic first name number `index` (`< SYNTHETIC_FIRST_NAMES`), capitalized ("Kalen").
pub fn synthetic_first_name(index: usize) -> String {
    syllables(index, 2)
}

/// Synthetic last name number `index` (`< SYNTHETIC_LAST_NAMES`), capitalized ("Marlenson").
pub fn synthetic_last_name(index: usize) -> String {
    syllables(index, 3)
}

fn syllables(mut index: usize, parts: usize) -> String {
    let mut out = String::new();
    for _ in 0..parts {
        out.push_str(SYLLABLES[index % SYLLABLES.len()]);
        index /= SYLLABLES.len();
    }
    capitalized(&out)
}

/// `s` with its first letter in upper case.
pub fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().collect::<String>() + chars.as_str()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn synthetic_names_are_distinct_and_capitalized() {
        let last: BTreeSet<String> = (0..SYNTHETIC_LAST_NAMES).map(synthetic_last_name).collect();
        assert_eq!(last.len(), SYNTHETIC_LAST_NAMES);
        assert_eq!(synthetic_first_name(0), "Kaka");
        assert!(last.iter().all(|n| n.starts_with(|c: char| c.is_ascii_uppercase())));
    }
}
