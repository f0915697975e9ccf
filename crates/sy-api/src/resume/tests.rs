//! Recorded continuations in, what reaches the client out.

use super::*;
use crate::Finish;

fn text(t: &str) -> Event {
    Event::Text(t.to_owned())
}

fn start(index: u32, id: &str, name: &str) -> Event {
    Event::ToolStart {
        index,
        id: id.to_owned(),
        name: name.to_owned(),
    }
}

fn args(index: u32, delta: &str) -> Event {
    Event::ToolArgs {
        index,
        delta: delta.to_owned(),
    }
}

fn delivered(events: &[Event]) -> Delivered {
    let mut d = Delivered::default();
    for e in events {
        d.note(e);
    }
    d
}

/// Runs a continuation through a splice: the events the client gets, or Diverged.
fn check(have: &[Event], prefill: bool, cont: Vec<Event>) -> Result<Vec<Event>, Diverged> {
    let d = delivered(have);
    let mut s = Splice::new(&d, &d.mode(prefill));
    let mut out = Vec::new();
    for e in cont {
        s.push(e, &mut out)?;
    }
    Ok(out)
}

#[test]
fn regenerated_text_keeps_only_what_is_new() {
    let got = check(
        &[text("Hello from"), text(" alpha")],
        false,
        vec![
            text("Hello"),
            text(" from alpha. The"),
            text(" end"),
            Event::Finish(Finish::Stop),
        ],
    );
    assert_eq!(
        got,
        Ok(vec![
            text(". The"),
            text(" end"),
            Event::Finish(Finish::Stop)
        ])
    );
    assert_eq!(
        check(&[text("Hello from alpha")], false, vec![text("Goodbye")]),
        Err(Diverged)
    );
    // finishing before reaching the delivered text is another answer
    assert_eq!(
        check(
            &[text("Hello from alpha")],
            false,
            vec![text("Hello"), Event::Finish(Finish::Stop)]
        ),
        Err(Diverged)
    );
}

#[test]
fn prefill_passes_everything_but_reasoning() {
    let got = check(
        &[text("Hello")],
        true,
        vec![
            Event::Reasoning("hmm".into()),
            text(" there"),
            Event::Finish(Finish::Stop),
        ],
    );
    assert_eq!(got, Ok(vec![text(" there"), Event::Finish(Finish::Stop)]));
}

#[test]
fn a_tool_call_cut_in_its_arguments_is_continued_not_duplicated() {
    // the client has call_a with `{"location":"Par`; the continuation regenerates the call
    // under its own id and numbering
    let have = [
        text("Let me look."),
        start(0, "call_a", "get_weather"),
        args(0, "{\"location\":\"Par"),
    ];
    let got = check(
        &have,
        true, // prefill is not possible once a tool call was delivered
        vec![
            text("Let me look."),
            start(0, "toolu_b", "get_weather"),
            args(0, "{\"loc"),
            args(0, "ation\":\"Paris\",\"unit\":\"c\"}"),
            Event::Finish(Finish::ToolCalls),
        ],
    );
    assert_eq!(
        got,
        Ok(vec![
            args(0, "is\",\"unit\":\"c\"}"),
            Event::Finish(Finish::ToolCalls)
        ])
    );
}

#[test]
fn complete_tool_calls_are_matched_and_new_ones_renumbered() {
    let have = [
        start(0, "c1", "a"),
        args(0, "{}"),
        start(1, "c2", "b"),
        args(1, "{\"x\":"),
    ];
    let got = check(
        &have,
        false,
        vec![
            start(0, "n1", "a"),
            args(0, "{}"),
            start(1, "n2", "b"),
            args(1, "{\"x\":1}"),
            start(2, "n3", "c"),
            args(2, "{}"),
            Event::Finish(Finish::ToolCalls),
        ],
    );
    assert_eq!(
        got,
        Ok(vec![
            args(1, "1}"),
            start(2, "n3", "c"),
            args(2, "{}"),
            Event::Finish(Finish::ToolCalls)
        ])
    );
    // a different tool, or different arguments of a finished call: another answer
    assert_eq!(
        check(&have, false, vec![start(0, "n1", "z")]),
        Err(Diverged)
    );
    assert_eq!(
        check(
            &have,
            false,
            vec![start(0, "n1", "a"), args(0, "{\"y\":2}")]
        ),
        Err(Diverged)
    );
    // the first call cannot grow once the client has the second
    assert_eq!(
        check(&have, false, vec![start(0, "n1", "a"), args(0, "{}  ")]),
        Err(Diverged)
    );
}

#[test]
fn text_after_the_delivered_text_but_before_the_delivered_calls_diverges() {
    let have = [text("Sure."), start(0, "c1", "a"), args(0, "{}")];
    assert_eq!(
        check(
            &have,
            false,
            vec![text("Sure. And more"), start(0, "n", "a")]
        ),
        Err(Diverged)
    );
}
