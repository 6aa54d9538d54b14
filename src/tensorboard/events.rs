//! Scalar event files: what TensorBoard's Scalars tab reads.
//!
//! An event file is a sequence of TFRecords, each holding one serialized `tensorflow.Event`
//! protobuf. The first record only declares the file version; each of ours after it carries one
//! scalar (`Summary.Value.simple_value`) at a step and a wall time of our choosing, which is
//! why this is written by hand: a run's own clock (`wall_s` in metrics.csv) becomes
//! TensorBoard's "Relative" and "Wall" axes.
//!
//! Encodings follow proto3 as the reference implementation writes it (default `step` and
//! `wall_time` left out, the oneof `simple_value` always present), so our bytes equal
//! `Event.SerializeToString()` and the tests can compare them byte for byte.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::error::{TensorBoardError, create_folder};
use crate::atomic_file::write_bytes;

/// One scalar point: `value` of series `tag` at `step`, logged at `wall_secs` (seconds since
/// the Unix epoch; TensorBoard shows the difference to the first point as "Relative").
#[derive(Clone, Debug, PartialEq)]
pub struct ScalarEvent {
    pub tag: String,
    pub step: i64,
    pub wall_secs: f64,
    pub value: f32,
}

/// What [`decode_event`] reads back from one of our records.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodedEvent {
    pub wall_secs: f64,
    pub step: i64,
    /// Set on the first record of a file only.
    pub file_version: Option<String>,
    /// (tag, simple_value) of each Summary.Value.
    pub scalars: Vec<(String, f32)>,
}

/// Version 2 tells TensorBoard not to purge events at a lower step written after higher ones
/// (version 1 would treat them as a restart and drop the later points).
pub const FILE_VERSION: &str = "brain.Event:2";

/// Write `events` as one event file in `dir` (created if missing) and return its path.
///
/// The name is `events.out.tfevents.{secs:010}.{host}.{pid}.{n}` with `secs` the first event's
/// wall time (now when there are none), so files of one folder sort in the order of their data.
/// TensorBoard reads every event file of a folder: writing the same run twice into one folder
/// shows its points twice, so export into a fresh folder.
pub fn write_event_file(dir: &Path, events: &[ScalarEvent]) -> Result<PathBuf, TensorBoardError> {
    create_folder(dir)?;
    let version_wall_secs = events.first().map_or_else(now_secs, |e| e.wall_secs);
    let path = dir.join(event_file_name(version_wall_secs));
    write_bytes(&path, &event_file_bytes(version_wall_secs, events))?;
    Ok(path)
}

/// The whole file: the version record, then one record per scalar.
pub fn event_file_bytes(version_wall_secs: f64, events: &[ScalarEvent]) -> Vec<u8> {
    let mut out = Vec::new();
    frame_record(&mut out, &version_event(version_wall_secs));
    for event in events {
        frame_record(&mut out, &scalar_event(event));
    }
    out
}

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn event_file_name(wall_secs: f64) -> String {
    // A process-wide counter, as TensorFlow's writer has, so two files written in the same
    // second by one process still get distinct names.
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // `as` saturates: a negative or NaN time gives 0 rather than a malformed name.
    let secs = wall_secs.floor() as u64;
    let pid = std::process::id();
    format!("events.out.tfevents.{secs:010}.{}.{pid}.{n}", hostname())
}

/// The machine's name for the file name (only informative: TensorBoard needs just "tfevents"),
/// restricted to characters safe in a file name.
fn hostname() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_default();
    let safe: String = raw
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe.is_empty() {
        "localhost".into()
    } else {
        safe
    }
}

// ---- CRC-32C and TFRecord framing ----

/// CRC-32C's reflected polynomial (Castagnoli), the checksum TFRecord uses.
const CRC32C_POLY: u32 = 0x82F6_3B78;
const CRC32C_TABLE: [u32; 256] = crc32c_table();

const fn crc32c_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ CRC32C_POLY
            } else {
                c >> 1
            };
            bit += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

/// CRC-32C (init and final xor 0xFFFFFFFF), one table lookup per byte.
pub fn crc32c(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |c, &b| {
        CRC32C_TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8)
    })
}

/// TFRecord stores CRCs masked (rotated right by 15, plus a constant) because a CRC of data
/// that itself holds CRCs is weak.
pub fn masked_crc32c(bytes: &[u8]) -> u32 {
    crc32c(bytes).rotate_right(15).wrapping_add(0xA282_EAD8)
}

/// Append one record: u64 LE length, its masked CRC, the data, the data's masked CRC.
fn frame_record(out: &mut Vec<u8>, data: &[u8]) {
    let length = (data.len() as u64).to_le_bytes();
    out.extend_from_slice(&length);
    out.extend_from_slice(&masked_crc32c(&length).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc32c(data).to_le_bytes());
}

/// Split a file's bytes into its records' payloads, checking both CRCs of every record.
pub fn read_records(bytes: &[u8]) -> Result<Vec<&[u8]>, TensorBoardError> {
    let mut records = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let (data, next) = read_record(bytes, at)?;
        records.push(data);
        at = next;
    }
    Ok(records)
}

/// The record starting at byte `at`: its payload and where the next one starts.
fn read_record(bytes: &[u8], at: usize) -> Result<(&[u8], usize), TensorBoardError> {
    let corrupt = |reason: String| TensorBoardError::Corrupt { offset: at, reason };
    let length_bytes = bytes
        .get(at..at + 8)
        .ok_or_else(|| corrupt("truncated length".into()))?;
    if masked_crc32c(length_bytes)
        != read_u32(bytes, at + 8).ok_or_else(|| corrupt("truncated length checksum".into()))?
    {
        return Err(corrupt("length checksum mismatch".into()));
    }
    let mut length = [0u8; 8];
    length.copy_from_slice(length_bytes);
    let length = u64::from_le_bytes(length);
    let start = at + 12;
    let end = usize::try_from(length)
        .ok()
        .and_then(|n| start.checked_add(n))
        .filter(|&end| end <= bytes.len())
        .ok_or_else(|| corrupt(format!("record of {length} bytes runs past the end")))?;
    let data = &bytes[start..end];
    let stored = read_u32(bytes, end).ok_or_else(|| corrupt("truncated data checksum".into()))?;
    if masked_crc32c(data) != stored {
        return Err(corrupt("data checksum mismatch".into()));
    }
    Ok((data, end + 4))
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at + 4)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

// ---- protobuf encoding of Event, Summary, Summary.Value ----

/// Protobuf wire types used here.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LENGTH_DELIMITED: u8 = 2;
const FIXED32: u8 = 5;

/// Field numbers, from tensorflow/core/util/event.proto and framework/summary.proto.
const EVENT_WALL_TIME: u32 = 1;
const EVENT_STEP: u32 = 2;
const EVENT_FILE_VERSION: u32 = 3;
const EVENT_SUMMARY: u32 = 5;
const SUMMARY_VALUE: u32 = 1;
const VALUE_TAG: u32 = 1;
const VALUE_SIMPLE_VALUE: u32 = 2;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_key(out: &mut Vec<u8>, field: u32, wire_type: u8) {
    put_varint(out, u64::from(field << 3 | u32::from(wire_type)));
}

fn put_length_delimited(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_key(out, field, LENGTH_DELIMITED);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// `wall_time` and `step`, each left out at its default as proto3 does.
fn event_header(wall_secs: f64, step: i64) -> Vec<u8> {
    let mut out = Vec::new();
    if wall_secs.to_bits() != 0 {
        put_key(&mut out, EVENT_WALL_TIME, FIXED64);
        out.extend_from_slice(&wall_secs.to_le_bytes());
    }
    if step != 0 {
        // int64 varints carry the two's complement: a negative step takes ten bytes.
        put_key(&mut out, EVENT_STEP, VARINT);
        put_varint(&mut out, step as u64);
    }
    out
}

fn version_event(wall_secs: f64) -> Vec<u8> {
    let mut out = event_header(wall_secs, 0);
    put_length_delimited(&mut out, EVENT_FILE_VERSION, FILE_VERSION.as_bytes());
    out
}

fn scalar_event(event: &ScalarEvent) -> Vec<u8> {
    let mut value = Vec::new();
    put_length_delimited(&mut value, VALUE_TAG, event.tag.as_bytes());
    put_key(&mut value, VALUE_SIMPLE_VALUE, FIXED32);
    value.extend_from_slice(&event.value.to_le_bytes());
    let mut summary = Vec::new();
    put_length_delimited(&mut summary, SUMMARY_VALUE, &value);
    let mut out = event_header(event.wall_secs, event.step);
    put_length_delimited(&mut out, EVENT_SUMMARY, &summary);
    out
}

// ---- decoding (enough to read our own records back) ----

enum Field<'a> {
    Varint(u64),
    Fixed64([u8; 8]),
    Bytes(&'a [u8]),
    Fixed32([u8; 4]),
}

/// Read one Event payload (as returned by [`read_records`]). Unknown fields are skipped, as any
/// protobuf reader does; Summary.Values other than `simple_value` are an error.
pub fn decode_event(bytes: &[u8]) -> Result<DecodedEvent, TensorBoardError> {
    let mut event = DecodedEvent {
        wall_secs: 0.0,
        step: 0,
        file_version: None,
        scalars: Vec::new(),
    };
    for (field, value) in fields(bytes)? {
        match (field, value) {
            (EVENT_WALL_TIME, Field::Fixed64(b)) => event.wall_secs = f64::from_le_bytes(b),
            (EVENT_STEP, Field::Varint(v)) => event.step = v as i64,
            (EVENT_FILE_VERSION, Field::Bytes(b)) => {
                event.file_version = Some(utf8(b, "file_version")?)
            }
            (EVENT_SUMMARY, Field::Bytes(b)) => event.scalars.extend(decode_summary(b)?),
            _ => {}
        }
    }
    Ok(event)
}

/// Every scalar of an event file's bytes, in file order (the version record carries none).
pub fn scalar_events(bytes: &[u8]) -> Result<Vec<ScalarEvent>, TensorBoardError> {
    let mut out = Vec::new();
    for record in read_records(bytes)? {
        let event = decode_event(record)?;
        out.extend(event.scalars.into_iter().map(|(tag, value)| ScalarEvent {
            tag,
            step: event.step,
            wall_secs: event.wall_secs,
            value,
        }));
    }
    Ok(out)
}

fn decode_summary(bytes: &[u8]) -> Result<Vec<(String, f32)>, TensorBoardError> {
    let mut values = Vec::new();
    for (field, value) in fields(bytes)? {
        if let (SUMMARY_VALUE, Field::Bytes(b)) = (field, value) {
            values.push(decode_value(b)?);
        }
    }
    Ok(values)
}

fn decode_value(bytes: &[u8]) -> Result<(String, f32), TensorBoardError> {
    let (mut tag, mut simple_value) = (String::new(), None);
    for (field, value) in fields(bytes)? {
        match (field, value) {
            (VALUE_TAG, Field::Bytes(b)) => tag = utf8(b, "tag")?,
            (VALUE_SIMPLE_VALUE, Field::Fixed32(b)) => simple_value = Some(f32::from_le_bytes(b)),
            _ => {}
        }
    }
    let value = simple_value
        .ok_or_else(|| decode_error(format!("value `{tag}` is not a simple scalar")))?;
    Ok((tag, value))
}

fn utf8(bytes: &[u8], what: &str) -> Result<String, TensorBoardError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| decode_error(format!("{what} is not UTF-8")))
}

fn decode_error(reason: String) -> TensorBoardError {
    TensorBoardError::Decode { reason }
}

/// The (field number, value) pairs of one message, in order.
fn fields(bytes: &[u8]) -> Result<Vec<(u32, Field<'_>)>, TensorBoardError> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let key = take_varint(bytes, &mut at)?;
        let field = u32::try_from(key >> 3)
            .map_err(|_| decode_error(format!("field number {} too large", key >> 3)))?;
        let value = match (key & 7) as u8 {
            VARINT => Field::Varint(take_varint(bytes, &mut at)?),
            FIXED64 => Field::Fixed64(take_array(bytes, &mut at)?),
            LENGTH_DELIMITED => {
                let n = take_varint(bytes, &mut at)?;
                Field::Bytes(take_slice(bytes, &mut at, n)?)
            }
            FIXED32 => Field::Fixed32(take_array(bytes, &mut at)?),
            other => {
                return Err(decode_error(format!(
                    "unsupported wire type {other} at byte {at}"
                )));
            }
        };
        out.push((field, value));
    }
    Ok(out)
}

fn take_varint(bytes: &[u8], at: &mut usize) -> Result<u64, TensorBoardError> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes
            .get(*at)
            .ok_or_else(|| decode_error("truncated varint".into()))?;
        *at += 1;
        v |= u64::from(byte & 0x7F) << shift;
        if byte & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(decode_error("varint longer than ten bytes".into()))
}

fn take_slice<'a>(bytes: &'a [u8], at: &mut usize, n: u64) -> Result<&'a [u8], TensorBoardError> {
    let end = usize::try_from(n)
        .ok()
        .and_then(|n| at.checked_add(n))
        .filter(|&end| end <= bytes.len())
        .ok_or_else(|| decode_error(format!("field of {n} bytes runs past the end")))?;
    let slice = &bytes[*at..end];
    *at = end;
    Ok(slice)
}

fn take_array<const N: usize>(bytes: &[u8], at: &mut usize) -> Result<[u8; N], TensorBoardError> {
    let slice = take_slice(bytes, at, N as u64)?;
    let mut out = [0u8; N];
    out.copy_from_slice(slice);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hex (spaces ignored) → bytes.
    fn hex(s: &str) -> Vec<u8> {
        let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        digits
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect()
    }

    fn scalar(tag: &str, step: i64, wall_secs: f64, value: f32) -> ScalarEvent {
        ScalarEvent {
            tag: tag.into(),
            step,
            wall_secs,
            value,
        }
    }

    #[test]
    fn crc32c_matches_the_published_check_value() {
        // The CRC catalogue's check value for CRC-32/ISCSI (= CRC-32C) over "123456789"
        // (reveng.sourceforge.io/crc-catalogue, also RFC 3720 B.4's polynomial).
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
    }

    #[test]
    fn masked_crc_of_a_length_matches_tensorboard() {
        // TensorBoard 2.21:
        //   from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c
        //   hex(masked_crc32c(struct.pack("<Q", 24)))  # '0x224b7fa3'
        assert_eq!(masked_crc32c(&24u64.to_le_bytes()), 0x224B_7FA3);
    }

    /// TensorBoard 2.21's protobuf and masked CRC (the record framing of its
    /// summary/writer/record_writer.py):
    ///
    /// ```python
    /// import struct
    /// from tensorboard.compat.proto import event_pb2, summary_pb2
    /// from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c
    /// def rec(d):
    ///     h = struct.pack("<Q", len(d))
    ///     return (h + struct.pack("<I", masked_crc32c(h)) + d
    ///             + struct.pack("<I", masked_crc32c(d)))
    /// print(rec(event_pb2.Event(wall_time=1.7e9, file_version="brain.Event:2")
    ///           .SerializeToString()).hex())
    /// v = summary_pb2.Summary.Value(tag="loss/verif", simple_value=0.5)
    /// print(rec(event_pb2.Event(wall_time=1700000001.25, step=7,
    ///           summary=summary_pb2.Summary(value=[v])).SerializeToString()).hex())
    /// v = summary_pb2.Summary.Value(tag="w", simple_value=-2.0)
    /// print(event_pb2.Event(wall_time=0.0, step=-1,
    ///       summary=summary_pb2.Summary(value=[v])).SerializeToString().hex())
    /// print(event_pb2.Event(wall_time=1.0, step=300,
    ///       summary=summary_pb2.Summary(value=[v])).SerializeToString().hex())
    /// ```
    #[test]
    fn records_equal_tensorboards_own_bytes() {
        let version =
            "18000000 00000000 a37f4b22 0900000040fc54d9411a0d627261696e2e4576656e743a32 eced8f9d";
        let loss = "2000000000000000 29eda950 0900005040fc54d94110072a130a110a0a6c6f73732f7665726966150000003f c7be6b5b";
        let bytes = event_file_bytes(1.7e9, &[scalar("loss/verif", 7, 1_700_000_001.25, 0.5)]);
        assert_eq!(bytes, [hex(version), hex(loss)].concat());

        let negative_step = "10ffffffffffffffffff012a0a0a080a017715000000c0";
        assert_eq!(
            scalar_event(&scalar("w", -1, 0.0, -2.0)),
            hex(negative_step)
        );
        let two_byte_step = "09000000000000f03f10ac022a0a0a080a017715000000c0";
        assert_eq!(
            scalar_event(&scalar("w", 300, 1.0, -2.0)),
            hex(two_byte_step)
        );
    }

    #[test]
    fn scalars_round_trip_through_the_reader() {
        let events = vec![
            scalar("loss/verif", 1, 1_700_000_000.5, 3.25),
            scalar("weight/cari", 1, 1_700_000_000.5, 0.583_729),
            scalar("loss/verif", 0, 1_700_000_000.0, f32::NAN),
            scalar("eval/auc", 1_000_000_000_000, 1_700_000_100.125, -1e-30),
            scalar("négatif", -5, 1.0, f32::INFINITY),
        ];
        let bytes = event_file_bytes(1_700_000_000.5, &events);
        let records = read_records(&bytes).unwrap();
        assert_eq!(records.len(), events.len() + 1);
        let first = decode_event(records[0]).unwrap();
        assert_eq!(first.file_version.as_deref(), Some(FILE_VERSION));
        assert_eq!(first.wall_secs, 1_700_000_000.5);
        assert!(first.scalars.is_empty());
        let back = scalar_events(&bytes).unwrap();
        assert_eq!(back.len(), events.len());
        for (a, b) in back.iter().zip(&events) {
            assert_eq!((&a.tag, a.step, a.wall_secs), (&b.tag, b.step, b.wall_secs));
            assert_eq!(a.value.to_bits(), b.value.to_bits(), "{}", a.tag);
        }
    }

    #[test]
    fn a_corrupted_byte_is_detected() {
        let bytes = event_file_bytes(1.7e9, &[scalar("loss/cari", 3, 1.7e9, 1.5)]);
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 0x10;
            let err = read_records(&bad).expect_err(&format!("flip at byte {at} went unnoticed"));
            assert!(matches!(err, TensorBoardError::Corrupt { .. }), "{err}");
        }
        let err = read_records(&bytes[..bytes.len() - 1])
            .unwrap_err()
            .to_string();
        assert!(err.contains("truncated"), "{err}");
    }

    #[test]
    fn the_file_lands_in_the_folder_under_a_tfevents_name() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("export").join("run_a");
        let events = [scalar("loss/verif", 1, 1_700_000_000.9, 2.0)];
        let path = write_event_file(&folder, &events).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("events.out.tfevents.1700000000."),
            "{name}"
        );
        assert_eq!(
            scalar_events(&std::fs::read(&path).unwrap()).unwrap(),
            events
        );
        let second = write_event_file(&folder, &[]).unwrap();
        assert_ne!(
            second, path,
            "two files of one process must not share a name"
        );
    }
}
