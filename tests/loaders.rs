//! Loaders: good files, and truncated, corrupted, wrong-magic and wrong-size files, each
//! giving the right error (fixtures are made here, in a temporary directory).

use flate2::write::GzEncoder;
use flate2::Compression;
use retroprop::data::load::{
    read_csv, read_csv_from, read_idx, read_idx_from, read_labeled_text, read_mnist, CsvOptions, LabelColumn, LoadError,
};
use std::io::Write;
use std::path::{Path, PathBuf};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write fixture");
    path
}

#[test]
fn idx_files_plain_and_gzip() {
    let dir = tempfile::tempdir().expect("dir");
    let data: Vec<u8> = (0..24).collect();
    let plain = write(dir.path(), "a-idx3-ubyte", &idx(&[2, 3, 4], &data));
    let zipped = write(dir.path(), "b-idx3-ubyte.gz", &gzip(&idx(&[2, 3, 4], &data)));
    for path in [plain, zipped] {
        let array = read_idx(&path).expect("valid");
        assert_eq!(array.dims, [2, 3, 4]);
        assert_eq!(array.data, data);
    }
}

/// What a malformed file must give.
type Expectation = fn(&LoadError) -> bool;

#[test]
fn malformed_idx_files_are_errors_that_name_the_file() {
    let dir = tempfile::tempdir().expect("dir");
    let good = idx(&[2, 3], &[1, 2, 3, 4, 5, 6]);
    let cases: Vec<(&str, Vec<u8>, Expectation)> = vec![
        ("truncated-data", good[..good.len() - 2].to_vec(), |e| {
            matches!(
                e,
                LoadError::Truncated {
                    expected: 6,
                    found: 4,
                    ..
                }
            )
        }),
        ("truncated-header", good[..6].to_vec(), |e| {
            matches!(e, LoadError::Truncated { .. })
        }),
        ("empty", Vec::new(), |e| {
            matches!(e, LoadError::Truncated { found: 0, .. })
        }),
        ("bad-magic", [b"PK\x03\x04".as_slice(), &good[4..]].concat(), |e| {
            matches!(e, LoadError::BadMagic { found: 0x504b_0304, .. })
        }),
        ("float-type", [[0u8, 0, 0x0d, 2].as_slice(), &good[4..]].concat(), |e| {
            matches!(e, LoadError::UnsupportedType { code: 0x0d, .. })
        }),
        ("trailing", [good.as_slice(), &[9, 9, 9]].concat(), |e| {
            matches!(e, LoadError::TrailingData { extra: 3, .. })
        }),
        // A header declaring 2^40 bytes in a file of a few bytes: rejected before allocating.
        (
            "huge",
            idx(&[1 << 20, 1 << 20], &[0; 16]),
            |e| matches!(e, LoadError::TooLarge { declared, .. } if *declared == 1 << 40),
        ),
        (
            "truncated-gzip",
            {
                let z = gzip(&good);
                z[..z.len() - 6].to_vec()
            },
            |e| matches!(e, LoadError::Io { .. }),
        ),
        // Garbage after a gzip header: whatever it decodes to is rejected.
        (
            "corrupt-gzip",
            [gzip(&good)[..10].to_vec(), vec![0xff; 8]].concat(),
            |_| true,
        ),
    ];
    for (name, bytes, expected) in cases {
        let path = write(dir.path(), name, &bytes);
        let err = read_idx(&path).expect_err(name);
        assert!(expected(&err), "{name}: {err:?}");
        assert!(
            err.to_string().contains(name),
            "{name}: message does not name the file: {err}"
        );
    }
    let err = read_idx(&dir.path().join("missing")).unwrap_err();
    assert!(matches!(err, LoadError::Io { .. }) && err.to_string().contains("missing"));
}

#[test]
fn a_gzip_bomb_stops_at_the_cap() {
    // 64 MiB of zeros compress to a few tens of KiB; with a cap of 1 MiB the reader refuses.
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    let zeros = vec![0u8; 1 << 20];
    encoder.write_all(&idx(&[1 << 26], &[])).expect("header");
    for _ in 0..64 {
        encoder.write_all(&zeros).expect("zeros");
    }
    let bomb = encoder.finish().expect("gzip");
    assert!(bomb.len() < 1 << 20);
    let name = Path::new("bomb.gz");
    let reader = retroprop::data::load::reader(std::io::Cursor::new(bomb), name, 1 << 20).expect("open");
    let err = read_idx_from(reader, name, 1 << 30).unwrap_err();
    assert!(matches!(err, LoadError::TooLarge { .. }), "{err:?}");
}

#[test]
fn mnist_directory_with_matching_and_mismatching_files() {
    let dir = tempfile::tempdir().expect("dir");
    let images: Vec<u8> = (0..3 * 4).map(|i| (i * 20) as u8).collect();
    write(
        dir.path(),
        "train-images-idx3-ubyte.gz",
        &gzip(&idx(&[3, 2, 2], &images)),
    );
    write(dir.path(), "train-labels-idx1-ubyte", &idx(&[3], &[7, 0, 9]));
    write(
        dir.path(),
        "t10k-images-idx3-ubyte",
        &idx(&[1, 2, 2], &[0, 255, 0, 255]),
    );
    write(dir.path(), "t10k-labels-idx1-ubyte", &idx(&[1], &[4]));
    let mnist = read_mnist::<f32>(dir.path()).expect("valid");
    assert_eq!((mnist.train.len(), mnist.train.inputs, mnist.test.len()), (3, 4, 1));
    assert_eq!(mnist.train.labels, [7, 0, 9]);
    assert_eq!(mnist.test.features, [0.0, 1.0, 0.0, 1.0]);
    assert!((mnist.train.features[1] - 20.0 / 255.0).abs() < 1e-7);
    // Labels that disagree with the images.
    write(dir.path(), "t10k-labels-idx1-ubyte", &idx(&[2], &[4, 5]));
    let err = read_mnist::<f32>(dir.path()).unwrap_err();
    assert!(err.to_string().contains("2 labels for 1 images"), "{err}");
    // A label that is not a digit.
    write(dir.path(), "t10k-labels-idx1-ubyte", &idx(&[1], &[12]));
    let err = read_mnist::<f32>(dir.path()).unwrap_err();
    assert!(err.to_string().contains("not a digit"), "{err}");
    // A missing directory names the file it looked for.
    let err = read_mnist::<f32>(&dir.path().join("nowhere")).unwrap_err();
    assert!(err.to_string().contains("train-images-idx3-ubyte"), "{err}");
}

#[test]
fn csv_with_and_without_header_and_skipped_lines() {
    let dir = tempfile::tempdir().expect("dir");
    let plain = write(dir.path(), "plain.csv", b"1.0,2.0,0\n3.0,4.0,1\n\n5,6,1\n");
    let data = read_csv::<f64>(&plain, &CsvOptions::default()).expect("valid");
    assert_eq!(data.features, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!((data.inputs, data.labels.clone()), (2, vec![0, 1, 1]));

    let iris_like = write(
        dir.path(),
        "iris.csv.gz",
        &gzip(b"3,2,setosa,versicolor\n5.1,3.5,0\n4.9,3.0,1\n7.0,3.2,1\n"),
    );
    let options = CsvOptions {
        skip_lines: 1,
        ..CsvOptions::default()
    };
    let data = read_csv::<f32>(&iris_like, &options).expect("valid");
    assert_eq!(data.len(), 3);

    let named = write(dir.path(), "named.csv", b"species,a,b\ncat,1,2\ndog,3,4\ncat,5,6\n");
    let options = CsvOptions {
        header: true,
        label: LabelColumn::Name("species".into()),
        ..CsvOptions::default()
    };
    let data = read_csv::<f32>(&named, &options).expect("valid");
    assert_eq!(data.class_names, ["cat", "dog"]);
    assert_eq!(data.labels, [0, 1, 0]);
    assert_eq!(data.features, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let dataset = data.to_dataset().expect("dataset");
    assert_eq!(dataset.target(1), [0.0, 1.0]);
}

#[test]
fn malformed_csv_cells_carry_line_and_column() {
    let dir = tempfile::tempdir().expect("dir");
    let bad = write(dir.path(), "bad.csv", b"1,2,0\n3,x4,1\n");
    let err = read_csv::<f32>(&bad, &CsvOptions::default()).unwrap_err();
    assert!(matches!(err, LoadError::Cell { line: 2, column: 2, .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("bad.csv") && message.contains("line 2, column 2") && message.contains("`x4`"),
        "{message}"
    );

    let ragged = write(dir.path(), "ragged.csv", b"1,2,0\n3,1\n");
    let err = read_csv::<f32>(&ragged, &CsvOptions::default()).unwrap_err();
    assert!(matches!(err, LoadError::Line { line: 2, .. }), "{err:?}");

    let missing = write(dir.path(), "cols.csv", b"a,b,label\n1,2,0\n");
    let options = CsvOptions {
        header: true,
        label: LabelColumn::Name("class".into()),
        ..CsvOptions::default()
    };
    let err = read_csv::<f32>(&missing, &options).unwrap_err();
    assert!(
        err.to_string().contains("no column named `class`") && err.to_string().contains("a, b, label"),
        "{err}"
    );

    let empty = write(dir.path(), "empty.csv", b"");
    assert!(matches!(
        read_csv::<f32>(&empty, &CsvOptions::default()).unwrap_err(),
        LoadError::Empty { .. }
    ));

    let err = read_csv_from::<f32>(
        &b"1,2,0\n\xff\xfe,1,0\n"[..],
        Path::new("latin1.csv"),
        &CsvOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("latin1.csv"), "{err}");
}

#[test]
fn labelled_text_from_tsv() {
    let dir = tempfile::tempdir().expect("dir");
    let good = write(
        dir.path(),
        "s.tsv",
        b"label\ttext\tsource\n1\tGreat food!\tyelp\n0\tAwful.\timdb\n",
    );
    let data = read_labeled_text(&good, "label", "text").expect("valid");
    assert_eq!(data.texts, ["Great food!", "Awful."]);
    assert_eq!(data.labels, [1, 0]);

    let err = read_labeled_text(&good, "label", "sentence").unwrap_err();
    assert!(
        matches!(err, LoadError::MissingColumn { .. }) && err.to_string().contains("label, text, source"),
        "{err}"
    );

    let ragged = write(dir.path(), "r.tsv", b"label\ttext\n1\tfine\n0\ttoo\tmany\n");
    let err = read_labeled_text(&ragged, "label", "text").unwrap_err();
    assert!(matches!(err, LoadError::Line { line: 3, .. }), "{err:?}");

    let binary = write(dir.path(), "b.tsv", b"label\ttext\n1\t\xff\xfe\n");
    let err = read_labeled_text(&binary, "label", "text").unwrap_err();
    assert!(
        matches!(err, LoadError::Line { line: 2, .. }) && err.to_string().contains("UTF-8"),
        "{err:?}"
    );
}

#[test]
fn labelled_text_from_csv_plain_and_gzip() {
    use retroprop::data::load::{read_labeled_text_as, TextFormat};
    use std::io::Write;
    let dir = tempfile::tempdir().expect("dir");
    let body = b"id,text,label\n1,\"Great food, great staff!\",pos\n2,\"He said \"\"meh\"\",\nthen left.\",neg\n3,fine, pos \n";
    let plain = write(dir.path(), "reviews.csv", body);
    assert_eq!(TextFormat::of_path(&plain), TextFormat::Csv);
    let data = read_labeled_text_as(&plain, "label", "text", TextFormat::Csv).expect("valid");
    assert_eq!(
        data.texts,
        ["Great food, great staff!", "He said \"meh\",\nthen left.", "fine"]
    );
    assert_eq!(data.class_names, ["neg", "pos"]);
    assert_eq!(data.labels, [1, 0, 1]);

    let gz_path = dir.path().join("reviews.csv.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz_path).expect("create"),
        flate2::Compression::default(),
    );
    gz.write_all(body).expect("write");
    gz.finish().expect("finish");
    assert_eq!(TextFormat::of_path(&gz_path), TextFormat::Csv);
    assert_eq!(
        read_labeled_text_as(&gz_path, "label", "text", TextFormat::Csv).expect("gzip"),
        data
    );
    assert_eq!(TextFormat::of_path(std::path::Path::new("x.tsv.gz")), TextFormat::Tsv);

    let err = read_labeled_text_as(&plain, "label", "review", TextFormat::Csv).unwrap_err();
    assert!(
        matches!(err, LoadError::MissingColumn { .. }) && err.to_string().contains("id, text, label"),
        "{err}"
    );
    let ragged = write(dir.path(), "ragged.csv", b"label,text\npos,fine\nneg,too,many\n");
    let err = read_labeled_text_as(&ragged, "label", "text", TextFormat::Csv).unwrap_err();
    assert!(
        matches!(err, LoadError::Line { line: 3, .. }) && err.to_string().contains("ragged.csv"),
        "{err:?}"
    );
    let empty = write(dir.path(), "empty.csv", b"label,text\n");
    let err = read_labeled_text_as(&empty, "label", "text", TextFormat::Csv).unwrap_err();
    assert!(matches!(err, LoadError::Empty { .. }), "{err:?}");
}

#[test]
fn dimensions_whose_running_product_overflows_are_too_large() {
    // Found by the `idx` fuzz target: two huge dimensions and a zero one declare no data, but
    // anyone multiplying the dimensions in order overflows. The reader refuses them.
    let mut bytes = vec![0, 0, 0x08, 3];
    for d in [u32::MAX, u32::MAX, 0] {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    let err = read_idx_from(&bytes[..], Path::new("zero.idx"), 1 << 30).unwrap_err();
    assert!(matches!(err, LoadError::TooLarge { .. }), "{err:?}");
    // A zero dimension first is a valid empty array.
    let mut bytes = vec![0, 0, 0x08, 2];
    for d in [0u32, 7] {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    let array = read_idx_from(&bytes[..], Path::new("empty.idx"), 1 << 30).expect("valid");
    assert_eq!((array.dims, array.data.len()), (vec![0, 7], 0));
}
