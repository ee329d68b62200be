//! The HTML report: one self-contained page -- its tables, figures inline -- that fetches
//! nothing, and that a real browser renders (where chromium is installed).

use microsim::report::html::Figure;
use microsim::scenario::{Override, Scenario};

fn store_page() -> String {
    let report = Scenario::parse_with_overrides(
        Scenario::BUNDLED_STORE,
        "store.toml",
        &["simulation.duration=10s", "simulation.warmup=1s"]
            .map(|text| Override::parse(text).unwrap()),
    )
    .unwrap()
    .to_simulation(None)
    .unwrap()
    .run()
    .unwrap();
    let figure = Figure {
        title: "a test figure".to_string(),
        svg: r##"<svg xmlns="http://www.w3.org/2000/svg" width="200" height="50"><rect width="200" height="50" fill="#3b6fd4"/></svg>"##.to_string(),
    };
    report.to_html(&[figure])
}

/// Every attribute or style that could fetch something: none may point outside the page.
#[test]
fn the_page_references_no_network_resource() {
    let page = store_page();
    for pattern in ["src=", "href=", "@import", "<script", "<link", "<iframe"] {
        assert!(!page.contains(pattern), "the page holds {pattern}");
    }
    // `url(` only to a fragment of the page itself: the topology's arrow heads.
    assert!(page.contains("url(#arrow)"), "the topology is drawn");
    assert_eq!(page.matches("url(").count(), page.matches("url(#").count());
    // The only address is the SVG namespace, which names and fetches nothing.
    let without_namespace = page.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    assert!(!without_namespace.contains("http://") && !without_namespace.contains("https://"));
}

#[test]
fn the_page_holds_the_tables_and_the_figures() {
    let page = store_page();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.trim_end().ends_with("</html>"));
    for text in [
        "<h2>Workloads</h2>",
        "<td>checkout</td>",
        "<td>browse</td>",
        "<h2>Services</h2>",
        "<td>payment</td>",
        "<h2>a test figure</h2>",
        "<rect width=\"200\"",
        "payment: card declined",
        "<h2>Topology</h2>",
        "<details><summary>Mermaid source</summary><pre>flowchart LR",
        "<h2>The whole report</h2>",
    ] {
        assert!(page.contains(text), "missing {text}");
    }
    // The text report is inside, escaped.
    assert!(page.contains("microsim report  seed 7"));
    assert_eq!(
        page.matches("<table>").count(),
        page.matches("</table>").count()
    );
}

/// Renders the page in headless chromium and checks a screenshot came out, where chromium
/// is installed (CI machines without it skip, saying so).
#[test]
fn chromium_renders_the_page() {
    let Some(chromium) = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|path| std::path::Path::new(path).exists())
    else {
        eprintln!("chromium is not installed: the page is not rendered");
        return;
    };
    let dir = std::env::temp_dir().join(format!("microsim-html-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("report.html");
    let shot = dir.join("report.png");
    std::fs::write(&page, store_page()).unwrap();
    let status = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=1200,1600",
            &format!("--screenshot={}", shot.display()),
            &format!("file://{}", page.display()),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    // A blank page compresses to almost nothing; tables and a figure do not.
    assert!(png.len() > 20_000, "{} bytes", png.len());
}
