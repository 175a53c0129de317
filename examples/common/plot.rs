//! The training-curve plot of the examples that write one.

use plotters::prelude::*;
use retroprop::prelude::*;
use std::error::Error;
use std::path::Path;

/// The legend text of the early-stopping marker.
pub fn best_epoch_label(epoch: usize) -> String {
    format!("best epoch {epoch} (weights kept)")
}

/// Training and validation loss, and validation accuracy, per epoch, with a dashed line at
/// the epoch whose weights early stopping kept; the accuracy axis starts at `accuracy_from`.
pub fn training_curves(history: &History, accuracy_from: f64, path: &Path) -> Result<(), Box<dyn Error>> {
    let root = SVGBackend::new(path, (800, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(400);
    let epoch = |e: &EpochRecord| u32::try_from(e.epoch).unwrap_or(u32::MAX);
    let last = history.epochs.last().map_or(2, epoch).max(2);
    let best = history.best_epoch.and_then(|b| u32::try_from(b).ok());
    let marker = ShapeStyle::from(&BLACK.mix(0.6)).stroke_width(2);
    let max_loss = history
        .epochs
        .iter()
        .flat_map(|e| [e.train_loss, e.val_loss.unwrap_or(0.0)])
        .fold(0.0f64, f64::max)
        .max(1e-3)
        * 1.05;
    let mut chart = ChartBuilder::on(&left)
        .caption("loss", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(45)
        .build_cartesian_2d(1u32..last, 0f64..max_loss)?;
    chart.configure_mesh().x_desc("epoch").draw()?;
    let train: Vec<(u32, f64)> = history.epochs.iter().map(|e| (epoch(e), e.train_loss)).collect();
    let val: Vec<(u32, f64)> = history
        .epochs
        .iter()
        .filter_map(|e| Some((epoch(e), e.val_loss?)))
        .collect();
    chart
        .draw_series(LineSeries::new(train, &BLUE))?
        .label("train")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLUE));
    chart
        .draw_series(LineSeries::new(val, &RED))?
        .label("validation")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], RED));
    if let Some(best) = best {
        chart
            .draw_series(DashedLineSeries::new([(best, 0.0), (best, max_loss)], 6, 4, marker))?
            .label(best_epoch_label(best as usize))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], marker));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE)
        .border_style(BLACK)
        .draw()?;

    let mut chart = ChartBuilder::on(&right)
        .caption("validation accuracy", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(45)
        .build_cartesian_2d(1u32..last, accuracy_from..1.0)?;
    chart.configure_mesh().x_desc("epoch").draw()?;
    let accuracy: Vec<(u32, f64)> = history
        .epochs
        .iter()
        .filter_map(|e| Some((epoch(e), *e.metrics.get("accuracy")?)))
        .collect();
    chart.draw_series(LineSeries::new(accuracy, &GREEN))?;
    if let Some(best) = best {
        chart.draw_series(DashedLineSeries::new(
            [(best, accuracy_from), (best, 1.0)],
            6,
            4,
            marker,
        ))?;
    }
    root.present()?;
    Ok(())
}
