//! Survey kinds and how an answer is recognised: a number in the
//! survey's range ("5", "5/5", "4 stars", "five"), stars or keycap digits
//! ("⭐⭐⭐⭐⭐", "4️⃣"), faces and thumbs for CSAT ("😀", "👎"), and a few
//! words ("great", "bad", "very easy"). Anything else is not an answer: it
//! continues as a normal message. A leaf: config, conversations and the
//! core all speak of it.

use serde::{Deserialize, Serialize};

/// Which survey.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SurveyKind {
    /// Customer satisfaction, 1 (very unsatisfied) to 5 (very satisfied).
    Csat,
    /// Net promoter score, 0 (not at all likely to recommend) to 10.
    Nps,
    /// Customer effort, 1 (very difficult) to 7 (very easy).
    Ces,
}

impl SurveyKind {
    /// `csat`, `nps` or `ces`.
    pub fn as_str(self) -> &'static str {
        match self {
            SurveyKind::Csat => "csat",
            SurveyKind::Nps => "nps",
            SurveyKind::Ces => "ces",
        }
    }

    /// The lowest and highest score.
    pub fn range(self) -> (u8, u8) {
        match self {
            SurveyKind::Csat => (1, 5),
            SurveyKind::Nps => (0, 10),
            SurveyKind::Ces => (1, 7),
        }
    }

    /// What the customer is asked when nothing is configured.
    pub fn default_question(self) -> &'static str {
        match self {
            SurveyKind::Csat => {
                "How satisfied are you with the help you got? Reply with a number from 1 (very unsatisfied) to 5 (very satisfied)."
            }
            SurveyKind::Nps => {
                "How likely are you to recommend us to a friend? Reply with a number from 0 (not at all likely) to 10 (extremely likely)."
            }
            SurveyKind::Ces => {
                "How easy was it to get your issue resolved? Reply with a number from 1 (very difficult) to 7 (very easy)."
            }
        }
    }

    /// Her answer's score, if `text` is one.
    pub fn score(self, text: &str) -> Option<u8> {
        let (low, high) = self.range();
        let text = text
            .trim()
            .trim_end_matches(['.', '!'])
            .trim()
            .to_lowercase();
        let score = number(&text, high)
            .or_else(|| symbols(&text))
            .or_else(|| self.words(&text))?;
        (low..=high).contains(&score).then_some(score)
    }

    /// Faces, thumbs and words, by kind.
    fn words(self, text: &str) -> Option<u8> {
        let table: &[(&[&str], u8)] = match self {
            SurveyKind::Csat => &[
                (
                    &[
                        "great",
                        "excellent",
                        "amazing",
                        "perfect",
                        "very good",
                        "very satisfied",
                        "😀",
                        "😃",
                        "😄",
                        "😍",
                        "🤩",
                        "👍",
                    ],
                    5,
                ),
                (&["good", "satisfied", "🙂", "😊"], 4),
                (&["ok", "okay", "fine", "average", "neutral", "😐"], 3),
                (
                    &[
                        "bad",
                        "poor",
                        "unsatisfied",
                        "dissatisfied",
                        "😞",
                        "🙁",
                        "😕",
                    ],
                    2,
                ),
                (
                    &[
                        "terrible",
                        "awful",
                        "horrible",
                        "very bad",
                        "very poor",
                        "very unsatisfied",
                        "😡",
                        "😠",
                        "👎",
                    ],
                    1,
                ),
            ],
            SurveyKind::Ces => &[
                (&["very easy", "effortless"], 7),
                (&["easy"], 6),
                (&["neutral", "ok", "okay"], 4),
                (&["difficult", "hard"], 2),
                (&["very difficult", "very hard"], 1),
            ],
            SurveyKind::Nps => &[],
        };
        let text = text.trim_end_matches('\u{fe0f}');
        table
            .iter()
            .find(|(words, _)| words.contains(&text))
            .map(|(_, score)| *score)
    }
}

/// A number alone, or with "/N", "out of N" or "star(s)"; or a number
/// word.
fn number(text: &str, high: u8) -> Option<u8> {
    const WORDS: [&str; 11] = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    ];
    let mut parts = text.split_whitespace();
    let first = parts.next()?;
    let (head, slash) = match first.split_once('/') {
        Some((h, d)) => (h, Some(d)),
        None => (first, None),
    };
    let n: u8 = match head.parse() {
        Ok(n) => n,
        Err(_) => WORDS.iter().position(|w| *w == head)? as u8,
    };
    let rest: Vec<&str> = parts.collect();
    let scale_ok = |d: &str| d.parse::<u8>().is_ok_and(|d| d == high);
    let ok = match (slash, rest.as_slice()) {
        (Some(d), []) => scale_ok(d),
        (None, []) => true,
        (None, ["star" | "stars"]) => true,
        (None, ["out", "of", d]) => scale_ok(d),
        _ => false,
    };
    ok.then_some(n)
}

/// Stars ("⭐⭐⭐", "★★★") or a keycap digit ("5️⃣").
fn symbols(text: &str) -> Option<u8> {
    let chars: Vec<char> = text.chars().filter(|c| *c != '\u{fe0f}').collect();
    if !chars.is_empty() && chars.iter().all(|c| matches!(c, '⭐' | '★')) {
        return u8::try_from(chars.len()).ok();
    }
    match chars.as_slice() {
        [d, '\u{20e3}'] => d.to_digit(10).map(|d| d as u8),
        ['🔟'] => Some(10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::SurveyKind::{Ces, Csat, Nps};

    #[test]
    fn numbers_stars_emoji_and_words_are_scores() {
        for (text, score) in [
            ("5", 5),
            (" 4 ", 4),
            ("5/5", 5),
            ("3 stars", 3),
            ("4 out of 5", 4),
            ("five!", 5),
            ("⭐⭐⭐⭐⭐", 5),
            ("★★", 2),
            ("4️⃣", 4),
            ("great", 5),
            ("Great!", 5),
            ("very good", 5),
            ("bad", 2),
            ("😡", 1),
            ("👍", 5),
        ] {
            assert_eq!(Csat.score(text), Some(score), "{text}");
        }
        assert_eq!(Nps.score("10"), Some(10));
        assert_eq!(Nps.score("0"), Some(0));
        assert_eq!(Nps.score("🔟"), Some(10));
        assert_eq!(Ces.score("very easy"), Some(7));
        assert_eq!(Ces.score("6/7"), Some(6));
    }

    #[test]
    fn anything_else_is_a_message() {
        for text in [
            "",
            "6",
            "0",
            "5 days and still no parcel",
            "5/10",
            "great, but where is my refund?",
            "⭐⭐⭐⭐⭐⭐",
            "STOP",
            "thanks",
        ] {
            assert_eq!(Csat.score(text), None, "{text}");
        }
        assert_eq!(Nps.score("11"), None);
        assert_eq!(Nps.score("great"), None);
        assert_eq!(Ces.score("0"), None);
    }
}
