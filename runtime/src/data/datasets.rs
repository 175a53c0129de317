//! Small real data sets compiled into the crate, so that examples and tests need no files.
//!
//! All three are from the UCI Machine Learning Repository under the Creative Commons
//! Attribution 4.0 International license (CC BY 4.0):
//!
//! - **Iris** — R. A. Fisher, "The use of multiple measurements in taxonomic problems",
//!   Annals of Eugenics 7(2), 1936. <https://doi.org/10.24432/C56C76>
//! - **Optical Recognition of Handwritten Digits** (8x8, as shipped by scikit-learn) —
//!   E. Alpaydin and C. Kaynak, 1998. <https://doi.org/10.24432/C50P49>
//! - **Sentiment Labelled Sentences** — D. Kotzias, M. Denil, N. de Freitas and P. Smyth,
//!   "From Group to Individual Labels using Deep Features", KDD 2015.
//!   <https://doi.org/10.24432/C57604>
//!
//! License: <https://creativecommons.org/licenses/by/4.0/>

use crate::data::load::{read_csv_from, read_labeled_text_from, reader, CsvOptions, Labeled, LabeledText, LoadError};
use crate::real::Real;
use std::io::Cursor;
use std::path::Path;

const IRIS: &[u8] = include_bytes!("../../data/iris.csv");
const DIGITS: &[u8] = include_bytes!("../../data/digits.csv.gz");
const SENTIMENT: &[u8] = include_bytes!("../../data/sentiment.tsv.gz");

/// Fisher's Iris: 150 samples of 4 measurements (cm), 3 classes (setosa, versicolor,
/// virginica), 50 each, in class order.
///
/// # Errors
/// None in practice: the data is compiled in and checked by the test suite.
///
/// ```
/// let iris = retroprop_runtime::data::datasets::iris::<f32>().unwrap();
/// assert_eq!((iris.len(), iris.inputs, iris.classes()), (150, 4, 3));
/// assert_eq!(iris.class_names, ["setosa", "versicolor", "virginica"]);
/// ```
pub fn iris<T: Real>() -> Result<Labeled<T>, LoadError> {
    let name = Path::new("<embedded iris.csv>");
    let options = CsvOptions {
        skip_lines: 1,
        ..CsvOptions::default()
    };
    let mut data: Labeled<T> = read_csv_from(reader(Cursor::new(IRIS), name, 1 << 20)?, name, &options)?;
    data.class_names = ["setosa", "versicolor", "virginica"].map(String::from).to_vec();
    Ok(data)
}

/// The 8x8 handwritten digits: 1797 images of 64 pixels (row-major, values 0 to 16), 10
/// classes. Pixels are returned as they are; divide by 16 (or standardize) before training.
///
/// # Errors
/// None in practice: the data is compiled in and checked by the test suite.
pub fn digits<T: Real>() -> Result<Labeled<T>, LoadError> {
    let name = Path::new("<embedded digits.csv.gz>");
    read_csv_from(
        reader(Cursor::new(DIGITS), name, 1 << 22)?,
        name,
        &CsvOptions::default(),
    )
}

/// The UCI sentiment labelled sentences: 3000 review sentences from Amazon, IMDb and Yelp,
/// 1500 positive (label 1) and 1500 negative (label 0), grouped by source and class: shuffle
/// before splitting.
///
/// # Errors
/// None in practice: the data is compiled in and checked by the test suite.
pub fn sentiment() -> Result<LabeledText, LoadError> {
    let name = Path::new("<embedded sentiment.tsv.gz>");
    let mut data = read_labeled_text_from(reader(Cursor::new(SENTIMENT), name, 1 << 22)?, name, "label", "text")?;
    data.class_names = vec!["negative".into(), "positive".into()];
    Ok(data)
}
