//! Losses, gradients and SGD trajectories against PyTorch (float64), from the committed
//! `tests/reference/pytorch.json` made by `tests/reference/make_reference.py`.

mod common;

use common::{assert_close, get_tensor, row_major, set_tensor};
use retroprop::prelude::*;
use serde_json::Value;

retroprop::network! {
    #[network(scalar = f64)]
    struct TanhSoftmax { input: 3, h1: dense(5) -> tanh, out: dense(4) -> softmax }

    #[network(scalar = f64)]
    struct SoftTargets { input: 4, h1: dense(6) -> relu, out: dense(3) -> softmax }

    #[network(scalar = f64)]
    struct ReluGeluSigmoid { input: 4, h1: dense(6) -> relu, h2: dense(5) -> gelu, out: dense(3) -> sigmoid }

    #[network(scalar = f64)]
    struct DeepRegression {
        input: 2,
        h1: dense(4) -> leaky_relu(0.2),
        h2: dense(4) -> elu(0.5),
        h3: dense(3) -> silu,
        out: dense(2),
    }

    #[network(scalar = f64)]
    struct SoftplusTanh { input: 3, h1: dense(4) -> softplus, out: dense(2) -> tanh }

    #[network(scalar = f64)]
    struct IdentityBce { input: 3, h1: dense(4) -> sigmoid, out: dense(2) -> sigmoid }
}

const TOLERANCE: f64 = 1e-10;

fn reference() -> Value {
    let text = include_str!("reference/pytorch.json");
    serde_json::from_str(text).expect("pytorch.json parses")
}

fn case<'a>(reference: &'a Value, name: &str) -> &'a Value {
    reference["cases"]
        .as_array()
        .and_then(|cases| cases.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no case {name}"))
}

fn load<N: Network<Scalar = f64>>(case: &Value) -> N {
    let mut net = N::zeroed();
    for (name, value) in case["params"].as_object().expect("params") {
        set_tensor(&mut net, name, value);
    }
    net
}

fn loss_named(kind: &str) -> Box<dyn Loss<f64>> {
    let reference = reference();
    match kind {
        "weighted_ce" => Box::new(WeightedCrossEntropy::new(row_major(&reference["class_weights"]))),
        "pos_weight_bce" => Box::new(WeightedBinaryCrossEntropy::new(row_major(&reference["pos_weight"]))),
        "mse" => Box::new(MeanSquaredError),
        "mae" => Box::new(MeanAbsoluteError),
        "huber" => Box::new(Huber::default()),
        "bce" => Box::new(BinaryCrossEntropy),
        "ce" => Box::new(CrossEntropy),
        other => panic!("unknown loss {other}"),
    }
}

/// Compares outputs, every loss and every gradient of one case with PyTorch's.
fn check_case<N: Network<Scalar = f64>>(name: &str) {
    let reference = reference();
    let case = case(&reference, name);
    let net: N = load(case);
    let x = row_major(&case["x"]);
    let y = row_major(&case["y"]);
    let n = x.len() / N::INPUT;
    let mut ws = N::workspace(n);
    let output = net.forward_into(&x, &mut ws).expect("forward");
    assert_close(
        output.act,
        &row_major(&case["output"]),
        TOLERANCE,
        &format!("{name} output"),
    );
    let losses = case["losses"].as_object().expect("losses");
    assert!(!losses.is_empty());
    for (kind, expected) in losses {
        let loss = loss_named(kind);
        let mut grads = N::zeroed_gradients();
        let mut ctx = Context::training(0);
        let value = net
            .gradients_into(&x, &y, loss.as_ref(), &mut ctx, &mut ws, &mut grads)
            .expect("gradients");
        let what = format!("{name} {kind}");
        assert_close(
            &[value],
            &[expected["loss"].as_f64().expect("loss")],
            TOLERANCE,
            &format!("{what} loss"),
        );
        for (tensor, g) in expected["gradients"].as_object().expect("gradients") {
            assert_close(
                &get_tensor(&grads, tensor),
                &row_major(g),
                1e-9,
                &format!("{what} d/d{tensor}"),
            );
        }
    }
}

#[test]
fn tanh_hidden_softmax_output_cross_entropy_and_mse() {
    check_case::<TanhSoftmax>("tanh_softmax");
}

#[test]
fn soft_targets_cross_entropy() {
    check_case::<SoftTargets>("soft_targets");
}

#[test]
fn relu_gelu_sigmoid_binary_cross_entropy_and_mse() {
    check_case::<ReluGeluSigmoid>("relu_gelu_sigmoid");
}

#[test]
fn deep_regression_mse_mae_huber() {
    check_case::<DeepRegression>("deep_regression");
}

#[test]
fn softplus_tanh_mse_huber() {
    check_case::<SoftplusTanh>("softplus_tanh");
}

#[test]
fn sigmoid_output_binary_cross_entropy() {
    check_case::<IdentityBce>("identity_bce");
}

fn check_sgd<N: Network<Scalar = f64>>(index: usize) {
    let reference = reference();
    let trajectory = &reference["sgd"][index];
    let case = case(&reference, trajectory["case"].as_str().expect("case"));
    let mut net: N = load(case);
    let settings = &trajectory["settings"];
    let get = |key: &str| settings.get(key).and_then(Value::as_f64).unwrap_or(0.0);
    let mut sgd = Sgd::new(get("lr"))
        .with_momentum(get("momentum"))
        .with_dampening(get("dampening"))
        .with_weight_decay(get("weight_decay"))
        .with_nesterov(settings.get("nesterov").and_then(Value::as_bool).unwrap_or(false));
    let x = row_major(&case["x"]);
    let y = row_major(&case["y"]);
    let loss = loss_named(trajectory["loss"].as_str().expect("loss"));
    let mut session = Session::<N>::new(x.len() / N::INPUT, 0);
    let mut losses = Vec::new();
    for _ in 0..trajectory["steps"].as_u64().expect("steps") {
        losses.push(session.step(&mut net, &x, &y, loss.as_ref(), &mut sgd).expect("step"));
    }
    assert_close(&losses, &row_major(&trajectory["losses"]), 1e-9, "losses");
    for (tensor, value) in trajectory["params"].as_object().expect("params") {
        assert_close(&get_tensor(&net, tensor), &row_major(value), 1e-9, tensor);
    }
}

#[test]
fn sgd_plain_matches_torch_optim() {
    check_sgd::<TanhSoftmax>(0);
}

#[test]
fn sgd_momentum_dampening_weight_decay_matches_torch_optim() {
    check_sgd::<TanhSoftmax>(1);
}

#[test]
fn sgd_nesterov_matches_torch_optim() {
    check_sgd::<DeepRegression>(2);
}

/// One optimizer step on the case's batch, returning the loss.
type Stepper<N> = Box<dyn FnMut(&mut N, &mut Session<N>) -> f64>;

/// Runs one optimizer trajectory from the reference file and compares losses and final
/// parameters with `torch.optim`'s.
fn check_optimizer<N: Network<Scalar = f64>>(trajectory: &Value) {
    let case = case(&reference(), trajectory["case"].as_str().expect("case")).clone();
    let mut net: N = load(&case);
    let settings = &trajectory["settings"];
    let number = |key: &str, default: f64| settings.get(key).and_then(Value::as_f64).unwrap_or(default);
    let flag = |key: &str| settings.get(key).and_then(Value::as_bool).unwrap_or(false);
    let betas = settings.get("betas").map(row_major).unwrap_or_else(|| vec![0.9, 0.999]);
    let x = row_major(&case["x"]);
    let y = row_major(&case["y"]);
    let loss = loss_named(trajectory["loss"].as_str().expect("loss"));
    let mut session = Session::<N>::new(x.len() / N::INPUT, 0);
    let steps = trajectory["steps"].as_u64().expect("steps");
    let name = trajectory["optimizer"].as_str().expect("optimizer");
    let mut optimizer: Stepper<N> = match name {
        "rmsprop" => {
            let mut opt = RmsProp::new(number("lr", 0.01))
                .with_alpha(number("alpha", 0.99))
                .with_eps(number("eps", 1e-8))
                .with_weight_decay(number("weight_decay", 0.0))
                .with_momentum(number("momentum", 0.0))
                .with_centered(flag("centered"));
            Box::new(move |net, s| s.step(net, &x, &y, loss.as_ref(), &mut opt).expect("step"))
        }
        "adagrad" => {
            let mut opt = Adagrad::new(number("lr", 0.01))
                .with_lr_decay(number("lr_decay", 0.0))
                .with_weight_decay(number("weight_decay", 0.0))
                .with_initial_accumulator_value(number("initial_accumulator_value", 0.0))
                .with_eps(number("eps", 1e-10));
            Box::new(move |net, s| s.step(net, &x, &y, loss.as_ref(), &mut opt).expect("step"))
        }
        "adam" => {
            let mut opt = Adam::new(number("lr", 1e-3))
                .with_betas(betas[0], betas[1])
                .with_eps(number("eps", 1e-8))
                .with_weight_decay(number("weight_decay", 0.0))
                .with_amsgrad(flag("amsgrad"));
            Box::new(move |net, s| s.step(net, &x, &y, loss.as_ref(), &mut opt).expect("step"))
        }
        "adamw" => {
            let mut opt = AdamW::new(number("lr", 1e-3))
                .with_betas(betas[0], betas[1])
                .with_eps(number("eps", 1e-8))
                .with_weight_decay(number("weight_decay", 0.01))
                .with_amsgrad(flag("amsgrad"));
            Box::new(move |net, s| s.step(net, &x, &y, loss.as_ref(), &mut opt).expect("step"))
        }
        other => panic!("unknown optimizer {other}"),
    };
    let losses: Vec<f64> = (0..steps).map(|_| optimizer(&mut net, &mut session)).collect();
    let what = format!("{name} {settings}");
    assert_close(
        &losses,
        &row_major(&trajectory["losses"]),
        1e-9,
        &format!("{what} losses"),
    );
    for (tensor, value) in trajectory["params"].as_object().expect("params") {
        assert_close(
            &get_tensor(&net, tensor),
            &row_major(value),
            1e-9,
            &format!("{what} {tensor}"),
        );
    }
}

#[test]
fn rmsprop_adagrad_adam_adamw_match_torch_optim() {
    let reference = reference();
    let trajectories = reference["optimizers"].as_array().expect("optimizers");
    assert_eq!(trajectories.len(), 10);
    for trajectory in trajectories {
        match trajectory["case"].as_str() {
            Some("tanh_softmax") => check_optimizer::<TanhSoftmax>(trajectory),
            Some("deep_regression") => check_optimizer::<DeepRegression>(trajectory),
            other => panic!("unexpected case {other:?}"),
        }
    }
}

#[test]
fn schedules_match_torch_lr_scheduler() {
    let reference = reference();
    let schedules = reference["schedules"].as_array().expect("schedules");
    assert_eq!(schedules.len(), 5);
    for expected in schedules {
        let schedule = match expected["name"].as_str().expect("name") {
            "step" => Schedule::step(7, 0.5),
            "exponential" => Schedule::exponential(0.9),
            "cosine" => Schedule::cosine(10, 0.001),
            "warmup_cosine" => Schedule::cosine(10, 0.001).with_warmup(0.1, 5),
            "warmup_step" => Schedule::step(3, 0.5).with_warmup(0.25, 4),
            other => panic!("unknown schedule {other}"),
        };
        let base = expected["base_lr"].as_f64().expect("base");
        let lrs: Vec<f64> = (0..30).map(|epoch| schedule.lr_at(base, epoch)).collect();
        assert_close(
            &lrs,
            &row_major(&expected["lrs"]),
            1e-12,
            expected["name"].as_str().unwrap_or(""),
        );
    }
}

#[test]
fn reduce_on_plateau_matches_torch() {
    use retroprop::optim::schedule::Mode;
    let reference = reference();
    let plateaus = reference["plateaus"].as_array().expect("plateaus");
    assert_eq!(plateaus.len(), 3);
    for expected in plateaus {
        let base = expected["base_lr"].as_f64().expect("base");
        let mut plateau = match expected["name"].as_str().expect("name") {
            "defaults" => ReduceOnPlateau::new(),
            "patience_cooldown_min_lr" => ReduceOnPlateau::new()
                .with_factor(0.5)
                .with_patience(2)
                .with_cooldown(1)
                .with_min_lr(0.2),
            "max_mode" => ReduceOnPlateau::new()
                .with_mode(Mode::Max)
                .with_patience(1)
                .with_factor(0.5),
            other => panic!("unknown plateau case {other}"),
        };
        let mut lr = base;
        let lrs: Vec<f64> = row_major(&expected["metrics"])
            .into_iter()
            .map(|m| {
                lr = plateau.step(m, lr);
                lr
            })
            .collect();
        assert_close(
            &lrs,
            &row_major(&expected["lrs"]),
            1e-12,
            expected["name"].as_str().unwrap_or(""),
        );
    }
}
