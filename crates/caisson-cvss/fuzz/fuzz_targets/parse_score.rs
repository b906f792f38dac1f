//! Any byte string: parsing and scoring must not panic, scores stay in [0, 10]
//! with one decimal, and an accepted vector re-parses from its canonical form to
//! the same scores.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(vector) = caisson_cvss::parse(input) else {
        return;
    };
    let score = vector.score();
    for x in [Some(score.base), score.temporal, score.threat, score.environmental]
        .into_iter()
        .flatten()
    {
        assert!((0.0..=10.0).contains(&x), "{input:?}: score {x}");
        assert_eq!((x * 10.0).round() / 10.0, x, "{input:?}: {x} not one decimal");
    }
    let again = caisson_cvss::parse(&vector.to_string()).expect("canonical form parses");
    assert_eq!(again.score(), score, "{input:?}");
});
