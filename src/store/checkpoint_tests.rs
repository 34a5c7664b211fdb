//! Tests of `store/checkpoint.rs`: damage, old layouts, the header read
//! alone, the engine state read in two halves.

use super::doc::parse_split;
use super::*;
use crate::engine::OrderKey;

#[test]
fn missing_is_none_and_damaged_points_to_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    assert!(Checkpoint::load(dir.path()).unwrap().is_none());
    Checkpoint::default().save(dir.path()).unwrap();
    assert!(Checkpoint::load(dir.path()).unwrap().is_some());
    let good = std::fs::read(Checkpoint::path(dir.path())).unwrap();
    let truncated = &good[..good.len() - 5];
    let header_only = &good[..=good.iter().position(|b| *b == b'\n').unwrap()];
    let padded = [&good[..], &[0; 512]].concat();
    for bad in [&b""[..], b"\0\0\0\0", b"{\"format\":2,\"cur", b"{\"format\":99}", truncated, header_only, &padded] {
        std::fs::write(Checkpoint::path(dir.path()), bad).unwrap();
        // Refused by the header read alone, which no-op runs stop after.
        let message = Checkpoint::read(dir.path()).err().expect("refused").to_string();
        assert!(message.contains("observer rebuild"), "{message}");
    }
}

/// Written by observer 0.1.0 after one pass over `b.jsonl`: its body
/// keeps the order key beside the engine state.
const OF_0_1_0: &str = concat!(
    r#"{"format":3,"cursors":{"b.jsonl":[69,1,69,65024,10019154,1796226557653592466,1796226557653592466,"#,
    r#"1796226557653592466,11693151049307313630,11693151049307313630]},"clock":"2026-05-12T12:10:00Z","#,
    r#""inputs":{"digest":8454289979415941154,"deployments":[],"written":13312508558206086295}}"#,
    "\n",
    r#"{"engine":{"clock":"2026-05-12T12:10:00Z","nodes":{"a":{"status":"up","last_seen":"2026-05-12T12:10:00Z"}},"#,
    r#""services":{},"incidents":{},"deployments":{},"stats":{"total":1,"by_type":{"heartbeat":1},"rejected":0,"#,
    r#""duplicates":0,"late":0},"counters":{"ticks":0,"heartbeats":1,"errors":0},"#,
    r#""seen_ids":{"X":"2026-05-12T12:10:00Z"},"pruned_hour":494052,"probes":{},"probe_verdicts":{},"#,
    r#""probe_runs":[],"budgets_exhausted":[],"breaker_deadline":null},"rejects":[],"#,
    r#""last_folded":{"ts":"2026-05-12T12:10:00Z","file":"b.jsonl","position":0}}"#,
    "\n",
);

#[test]
fn a_checkpoint_of_0_1_0_keeps_its_order_key_in_the_engine() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(Checkpoint::path(dir.path()), OF_0_1_0).unwrap();
    let mut checkpoint = Checkpoint::load(dir.path()).unwrap().unwrap();
    let key = OrderKey { ts: Ts::parse("2026-05-12T12:10:00Z").unwrap(), file: "b.jsonl".into(), position: 0 };
    assert_eq!(checkpoint.engine.last_folded(), Some(&key));
    assert_eq!(checkpoint.engine.stats().total, 1);
    assert_eq!(checkpoint.cursors.len(), 1);
    assert_eq!(checkpoint.outbox, OutboxMark::default(), "it commits an empty outbox");
    assert_eq!(checkpoint.history, None, "and knows of no history");
    // Saved again, the key is inside the engine state and reads back.
    checkpoint.save(dir.path()).unwrap();
    let again = Checkpoint::load(dir.path()).unwrap().unwrap();
    assert_eq!(again.engine, checkpoint.engine);
    let generation = again.stored.as_ref().unwrap().at.generation;
    let text = std::fs::read_to_string(journal::snapshot_path(dir.path(), generation)).unwrap();
    assert!(text.contains(r#""breaker_deadline":null,"last_folded":{"ts""#), "{text}");
}

#[test]
fn the_header_is_read_without_the_body() {
    let dir = tempfile::tempdir().unwrap();
    let mut checkpoint = Checkpoint {
        inputs: Some(WorldInputs {
            digest: 7,
            deployments: vec![("d1".into(), vec!["a.log".into()])],
            written: 1,
            marker_dirs: None,
        }),
        ..Checkpoint::default()
    };
    checkpoint.save(dir.path()).unwrap();
    // Spoil the body in place: the header alone still reads.
    let mut bytes = std::fs::read(Checkpoint::path(dir.path())).unwrap();
    let body_at = bytes.iter().position(|b| *b == b'\n').unwrap() + 1;
    bytes[body_at + 1..body_at + 4].copy_from_slice(b"???");
    std::fs::write(Checkpoint::path(dir.path()), &bytes).unwrap();
    let stored = Checkpoint::read(dir.path()).unwrap().unwrap();
    assert_eq!(stored.header.inputs.as_ref().unwrap().digest, 7);
    assert!(stored.to_checkpoint().is_err());
}

#[test]
fn a_reader_whose_engine_state_files_went_reads_the_newer_checkpoint() {
    // The header is read and the file kept open; a pass that commits a new
    // snapshot meanwhile removes the files that header named (readers such
    // as `check` take no lock): the body is then read from the newer one.
    let dir = tempfile::tempdir().unwrap();
    let mut first = Checkpoint::default();
    first.push_rejects([Reject { file: "a.jsonl".into(), line: 3, reason: "not JSON".into() }]);
    first.save(dir.path()).unwrap();
    let stored = Checkpoint::read(dir.path()).unwrap().unwrap();
    assert_eq!(stored.to_checkpoint().unwrap().rejects.len(), 1);
    Checkpoint::default().save(dir.path()).unwrap();
    assert_eq!(stored.to_checkpoint().unwrap().rejects.len(), 0);
    assert_eq!(Checkpoint::load(dir.path()).unwrap().unwrap().rejects.len(), 0);
}

/// The engine state's files written ahead of the commit
/// ([`RenderedState::write`], on a pass's second thread) name nothing until
/// the checkpoint that commits them is written: a pass that ends there (a
/// crash, a failed world write) leaves the committed state readable as it
/// was, and the next commit removes what it left.
#[test]
fn an_engine_state_written_ahead_and_never_committed_changes_nothing_and_goes_at_the_next_commit() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = Checkpoint::default();
    first.push_rejects([Reject { file: "a.jsonl".into(), line: 1, reason: "first".into() }]);
    first.save(dir.path()).unwrap();
    let committed = std::fs::read(Checkpoint::path(dir.path())).unwrap();
    let mut live = Checkpoint::load(dir.path()).unwrap().unwrap();
    // A new snapshot (no state read to diff against), written and not committed.
    live.push_rejects([Reject { file: "a.jsonl".into(), line: 2, reason: "second".into() }]);
    let ahead = live.render_state(dir.path(), None).and_then(|state| state.write(dir.path(), &live.engine)).unwrap();
    drop(ahead);
    let engine_files = || {
        let mut names: Vec<String> = std::fs::read_dir(dir.path().join("engine"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let snapshots = engine_files().into_iter().filter(|name| name.starts_with("snapshot-")).count();
    assert_eq!(snapshots, 2, "the committed snapshot and the one written ahead: {:?}", engine_files());
    assert_eq!(engine_files().len(), 4, "each with the index of its entities: {:?}", engine_files());
    assert_eq!(std::fs::read(Checkpoint::path(dir.path())).unwrap(), committed);
    let read = Checkpoint::load(dir.path()).unwrap().unwrap();
    assert_eq!(read.rejects.len(), 1, "the committed state, not the one written ahead");
    // The next pass commits: only its own generation stays.
    let mut next = Checkpoint::load(dir.path()).unwrap().unwrap();
    let stored = next.stored.take();
    let state = next.render_state(dir.path(), stored).and_then(|state| state.write(dir.path(), &next.engine));
    next.save_rendered(dir.path(), state).unwrap();
    let generation = next.stored.as_ref().unwrap().at.generation;
    let kept = engine_files();
    assert!(kept.iter().all(|name| name.contains(&generation.to_string())), "{kept:?} at generation {generation}");
    assert_eq!(Checkpoint::load(dir.path()).unwrap().unwrap().rejects.len(), 1);
}

/// The story of the tests below: an alert, and a deployment that finishes.
const STORY: [&str; 3] = [
    r#"{"ts":"2026-05-12T12:00:00Z","type":"node_down","node":"a"}"#,
    r#"{"ts":"2026-05-12T12:00:01Z","type":"deployment_started","node":"a","service":"web","correlation_id":"d1"}"#,
    r#"{"ts":"2026-05-12T12:00:02Z","type":"deployment_succeeded","node":"a","service":"web","correlation_id":"d1"}"#,
];

/// The state document of `engine`, which holds the finished deployment of
/// [`STORY`] (checked).
fn state_text(engine: &Engine) -> String {
    let text = serde_json::to_string(&BodyRef { engine, rejects: &VecDeque::new() }).unwrap();
    assert!(text.contains(r#""finished":{"indexed":true,"deployments":{"groups":{"a/web""#), "{text}");
    text
}

/// [`parse_split`] of a copy of `text`, which it gives back as it was,
/// whether it split it or not: it changes two bytes of it for the time of
/// the parse.
fn split_of(text: &str) -> Option<Body> {
    let mut doc = text.to_string();
    let split = parse_split(&mut doc);
    assert_eq!(doc, text, "the document is given back as it was");
    split
}

/// [`parse_body`] of a copy of `text`, given back as it was.
fn body_of(text: &str) -> Result<Body, serde_json::Error> {
    let mut doc = text.to_string();
    let body = parse_body(&mut doc);
    assert_eq!(doc, text, "the document is given back as it was");
    body
}

/// The engine state is parsed in two halves at once, its tail (`alerts`
/// and `finished`) beside the rest (`engine::halves`): what loads is what
/// was saved, tail included; a state without a tail field loads without
/// it, as a whole parse does; a damaged tail is refused.
#[test]
fn the_engine_state_parsed_in_two_halves_is_the_state_saved() {
    let engine = crate::engine::given::given(&STORY);
    let text = state_text(&engine);

    let parsed = body_of(&text).unwrap();
    assert_eq!(parsed.engine, engine, "the tail parsed beside the rest is put back");
    let split = split_of(&text).expect("a document as this version writes it is split where its tail begins");
    assert_eq!(split.engine, engine, "each half read from its own bytes");

    let (at, end) = (text.find(r#","finished":"#).unwrap(), text.find(r#"},"rejects""#).unwrap());
    let without = format!("{}{}", &text[..at], &text[end..]);
    let whole = serde_json::from_str::<Body>(&without).unwrap();
    assert_ne!(whole.engine, engine, "a state of a version before the bound");
    assert_eq!(body_of(&without).unwrap().engine, whole.engine, "loads as a whole parse loads it");
    assert!(split_of(&without).is_none(), "not as this version writes it: not split");

    let damaged = text.replace(r#""finished":{"indexed":true"#, r#""finished":{"indexed":7"#);
    assert!(split_of(&damaged).is_none());
    let error = body_of(&damaged).err().expect("a damaged tail is refused").to_string();
    assert!(error.contains("expected a boolean"), "{error}");

    // `alerts`, the tail's other field: its alert comes back; without it
    // (a state of a version before alerting) the state loads as a whole
    // parse loads it; damaged, it is refused.
    assert!(text.contains(r#""alerts":{"alerts":{"node_down:a":{"#), "{text}");
    let (at, end) = (text.find(r#","alerts":"#).unwrap(), text.find(r#","finished":"#).unwrap());
    let without = format!("{}{}", &text[..at], &text[end..]);
    let whole = serde_json::from_str::<Body>(&without).unwrap();
    assert_ne!(whole.engine, engine, "a state of a version before alerting");
    assert_eq!(body_of(&without).unwrap().engine, whole.engine, "loads as a whole parse loads it");
    let damaged = text.replace(r#""page_open":true"#, r#""page_open":"yes""#);
    let error = body_of(&damaged).err().expect("damaged alerts are refused").to_string();
    assert!(error.contains("expected a boolean"), "{error}");
}

/// The split parse gives what the whole parse gives, the members after the
/// engine included (the rejections, the order key a document of 0.1.0
/// kept beside the engine), and leaves to the whole parse every document
/// not as this version writes it: a member after the tail in the engine,
/// the tail first in it, the rejections before the engine, a document cut
/// short, anything after it; and it refuses what a whole parse refuses (a
/// second `engine`, even `null`, or `rejects` after the engine, a tail
/// field among the others), which the whole parse then tells.
#[test]
fn a_state_split_where_its_tail_begins_parses_as_the_whole_and_any_other_is_left_whole() {
    let engine = crate::engine::given::given(&STORY);
    let rejects = VecDeque::from([Reject { file: "a.jsonl".into(), line: 3, reason: "not JSON \"}\"".into() }]);
    let text = serde_json::to_string(&BodyRef { engine: &engine, rejects: &rejects }).unwrap();
    let split = split_of(&text).expect("split");
    let whole = serde_json::from_str::<Body>(&text).unwrap();
    assert_eq!(
        (&split.engine, &split.rejects, &split.last_folded),
        (&whole.engine, &whole.rejects, &whole.last_folded)
    );
    assert_eq!(split.rejects.len(), 1);

    let key = r#""last_folded":{"ts":"2026-05-12T12:10:00Z","file":"b.jsonl","position":0}"#;
    let with_key = format!("{},{key}}}", &text[..text.len() - 1]);
    let (split, whole) = (split_of(&with_key).expect("split"), serde_json::from_str::<Body>(&with_key).unwrap());
    assert!(whole.last_folded.is_some());
    assert_eq!(split.last_folded, whole.last_folded, "the order key after the engine");

    let end = text.find(r#"},"rejects""#).unwrap();
    let member_after = format!(r#"{},"later":1{}"#, &text[..end], &text[end..]);
    let tail_at = text.find(r#","alerts":"#).unwrap();
    let tail_first = format!(
        r#"{{"engine":{{{},{}{}"#,
        &text[tail_at + 1..end],
        &text[r#"{"engine":{"#.len()..tail_at],
        &text[end..]
    );
    assert_eq!(serde_json::from_str::<Body>(&tail_first).unwrap().engine, engine, "a whole parse reads it");
    assert_eq!(body_of(&tail_first).unwrap().engine, engine, "and so do the halves reading over each other");
    let rejects_first = format!(r#"{{"rejects":[],{}"#, &text[1..]);
    for other in [member_after, tail_first, rejects_first, text[..text.len() - 1].to_string(), format!("{text}x")] {
        assert!(split_of(&other).is_none(), "{}", &other[other.len().saturating_sub(60)..]);
    }

    // The tail is found by its text (`,"alerts":{"alerts":`): the same
    // text deeper in the engine, before the tail, is not taken for it (the
    // halves do not parse, and the document is read whole).
    let engine_at = r#"{"engine":{"#.len();
    let nested =
        format!(r#"{}"later":{{"x":0,"alerts":{{"alerts":{{}}}}}},{}"#, &text[..engine_at], &text[engine_at..]);
    let found = nested.find(r#","alerts":{"alerts":"#).unwrap();
    assert!(
        found < nested.find(r#""clock""#).unwrap(),
        "the text is found first in the member before the engine's own"
    );
    let whole = serde_json::from_str::<Body>(&nested).unwrap();
    assert_eq!(whole.engine, engine, "a member the engine does not know is skipped");
    assert!(split_of(&nested).is_none(), "not split at the text found first");
    assert_eq!(body_of(&nested).unwrap().engine, engine, "read whole, as the whole parse reads it");
    // Nor in a member of the document after an engine that has no tail:
    // the first half would be the engine and that member's beginning.
    let after = format!(r#"{}}},"x":{{"y":0,{}}},"rejects":[]}}"#, &text[..tail_at], &text[tail_at + 1..end]);
    let whole = serde_json::from_str::<Body>(&after).unwrap();
    assert_ne!(whole.engine, engine, "the whole parse skips the member, tail and all");
    assert!(split_of(&after).is_none(), "not split in a member after the engine");
    assert_eq!(body_of(&after).unwrap().engine, whole.engine, "read whole");
    // Without the text (a space after the key), the members are skipped to
    // find the tail, and the document is split there.
    let spaced = text.replacen(r#","alerts":{"alerts":"#, r#","alerts": {"alerts":"#, 1);
    assert_eq!(split_of(&spaced).expect("split by the members' skip").engine, engine);

    // What a whole parse refuses, the split refuses too, and the whole
    // parse tells why.
    let body = &text[..text.len() - 1];
    let finished = &text[text.find(r#","finished":"#).unwrap()..end];
    let refused = [
        format!(r#"{body},"engine":0}}"#),
        format!(r#"{body},"engine":null}}"#),
        format!(r#"{body},"rejects":[]}}"#),
        format!(r#"{{"engine":{{{},{}"#, &finished[1..], &text[r#"{"engine":{"#.len()..]),
    ];
    for damaged in refused {
        assert!(serde_json::from_str::<Body>(&damaged).is_err(), "{damaged}");
        assert!(split_of(&damaged).is_none(), "{damaged}");
        let error = body_of(&damaged).err().expect("refused").to_string();
        assert!(error.contains("duplicate field"), "{error}");
    }
}

/// Through the files: a state whose finished entries changed after it was
/// read is saved as a journal record over the snapshot, and loads (the
/// journal spliced into the snapshot, then parsed in two halves) as it
/// was saved.
#[test]
fn finished_entries_saved_in_the_journal_load_as_they_were_saved() {
    let dir = tempfile::tempdir().unwrap();
    let mut checkpoint = Checkpoint { engine: crate::engine::given::given(&STORY[..2]), ..Checkpoint::default() };
    checkpoint.save(dir.path()).unwrap();
    let mut checkpoint = Checkpoint::load(dir.path()).unwrap().unwrap();
    let event = crate::engine::given::event(STORY[2]);
    let input = crate::engine::Input::Event { event: &event, file: "given.jsonl", position: 2 };
    checkpoint.engine.apply(input, &crate::engine::Rules::default());
    state_text(&checkpoint.engine);
    checkpoint.save(dir.path()).unwrap();

    let generation = checkpoint.stored.as_ref().unwrap().at.generation;
    let journal = std::fs::read_to_string(journal::journal_path(dir.path(), generation)).unwrap();
    assert!(journal.contains(r#""finished""#), "the change is a journal record: {journal}");
    let loaded = Checkpoint::load(dir.path()).unwrap().unwrap();
    assert_eq!(loaded.engine, checkpoint.engine);
}

/// The engine state as a pass writes it (`render_state`): its instants
/// are integers, it is shorter than the same state in RFC 3339 (as format
/// 4 wrote it), and both load to the same engine, split where the tail
/// begins or whole.
#[test]
fn the_engine_state_is_written_with_integer_instants_and_the_rfc_3339_form_still_loads() {
    let dir = tempfile::tempdir().unwrap();
    let engine = crate::engine::given::given(&STORY);
    let checkpoint = Checkpoint { engine: engine.clone(), ..Checkpoint::default() };
    let Made::Rendered { doc, .. } = checkpoint.render_state(dir.path(), None).unwrap().0 else {
        panic!("a state rendered, not written")
    };
    let rfc = state_text(&engine);
    let clock = engine.clock().unwrap().0;
    assert!(doc.contains(&format!(r#"{{"engine":{{"clock":{clock},"#)), "{doc}");
    assert!(!doc.contains("2026-05-12T"), "no instant in RFC 3339: {doc}");
    assert!(rfc.contains(r#"{"engine":{"clock":"2026-05-12T12:00:02Z","#), "{rfc}");
    assert!(doc.len() < rfc.len());
    for text in [&doc, &rfc] {
        assert_eq!(body_of(text).unwrap().engine, engine, "{text}");
        assert_eq!(split_of(text).expect("split").engine, engine, "{text}");
    }
}

/// A checkpoint's engine state, loaded, takes the index of the ids that
/// left the hot view and of the duplicate window saved with its snapshot
/// (`Engine::saved_index`): no id of its minutes is read one by one, and
/// the engine is the one saved. Without the index file, every id is read
/// one by one, to the same engine; after a run's journal record, only the
/// minutes it changed.
#[test]
fn a_load_takes_the_index_of_the_ids_that_left_saved_with_the_snapshot() {
    let lines: Vec<String> = (0..40)
        .map(|n| {
            format!(
                r#"{{"ts":"2026-05-12T12:{:02}:{:02}Z","type":"heartbeat","node":"a","id":"beat-{n}"}}"#,
                n / 4,
                n % 4 * 10
            )
        })
        .collect();
    let engine = crate::engine::given::given(&lines.iter().map(String::as_str).collect::<Vec<_>>());
    let dir = tempfile::tempdir().unwrap();
    let mut checkpoint = Checkpoint { engine, ..Checkpoint::default() };
    checkpoint.save(dir.path()).unwrap();
    let loaded = Checkpoint::load(dir.path()).unwrap().unwrap();
    assert_eq!(loaded.engine.ids_filed_one_by_one(), [Some(0); 3], "every minute covered by the saved index");
    assert_eq!(loaded.engine, checkpoint.engine);

    let generation = loaded.stored.as_ref().unwrap().at.generation;
    let entities = journal::entities_path(dir.path(), generation);
    let written = std::fs::read(&entities).unwrap();
    std::fs::remove_file(&entities).unwrap();
    let without = Checkpoint::load(dir.path()).unwrap().unwrap();
    assert_eq!(without.engine.ids_filed_one_by_one(), [Some(0), Some(0), Some(40)], "the duplicate window's ids");
    assert_eq!(without.engine, checkpoint.engine);
    std::fs::write(&entities, written).unwrap();

    // A pass remembers one more id, in a new minute: saved as a journal
    // record, that minute alone is read one by one at the next load.
    let mut next = Checkpoint::load(dir.path()).unwrap().unwrap();
    let more = crate::engine::given::given(
        &lines
            .iter()
            .map(String::as_str)
            .chain([r#"{"ts":"2026-05-12T12:30:00Z","type":"heartbeat","node":"a","id":"late-1"}"#])
            .collect::<Vec<_>>(),
    );
    next.engine = more.clone();
    next.save(dir.path()).unwrap();
    assert!(next.stored.as_ref().unwrap().at.journal.bytes > 0, "a journal record, not a snapshot");
    let after = Checkpoint::load(dir.path()).unwrap().unwrap();
    assert_eq!(after.engine.ids_filed_one_by_one(), [Some(0), Some(0), Some(1)]);
    assert_eq!(after.engine, more);
}
