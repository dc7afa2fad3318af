/// A small line plot on the unit square, written as plain SVG that any browser shows.
///
/// Thread: a value type.
public struct SVGPlot: Sendable {
    public struct Series: Sendable {
        public let label: String
        public let colour: String
        public let points: [(Double, Double)]
        public let dashed: Bool
        /// Draw markers at the points instead of joining them (reliability diagrams).
        public let markers: Bool

        public init(
            label: String, colour: String, points: [(Double, Double)], dashed: Bool = false,
            markers: Bool = false
        ) {
            self.label = label
            self.colour = colour
            self.points = points
            self.dashed = dashed
            self.markers = markers
        }
    }

    public let title: String
    public let xLabel: String
    public let yLabel: String
    public var series: [Series] = []

    public init(title: String, xLabel: String, yLabel: String) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
    }

    static let size = 480.0
    static let margin = 60.0

    /// The SVG document.
    public func render() -> String {
        let size = Self.size
        let margin = Self.margin
        let plot = size - 2 * margin
        func x(_ value: Double) -> String { format(margin + min(1, max(0, value)) * plot) }
        func y(_ value: Double) -> String { format(size - margin - min(1, max(0, value)) * plot) }
        let side = String(Int(size))
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(side)\" height=\"\(side)\" "
        svg += "viewBox=\"0 0 \(side) \(side)\" font-family=\"sans-serif\" font-size=\"12\">\n"
        svg += element("rect", ["width": "100%", "height": "100%", "fill": "white"])
        svg += element(
            "text", ["x": format(size / 2), "y": "24", "text-anchor": "middle", "font-size": "15"],
            text: title)
        for tick in stride(from: 0.0, through: 1.0001, by: 0.2) {
            let grid = ["stroke": "#eee"]
            svg += element("line", ["x1": x(tick), "y1": y(0), "x2": x(tick), "y2": y(1)], grid)
            svg += element("line", ["x1": x(0), "y1": y(tick), "x2": x(1), "y2": y(tick)], grid)
            svg += element(
                "text", ["x": x(tick), "y": format(size - margin + 16), "text-anchor": "middle"],
                text: format(tick))
            svg += element(
                "text",
                ["x": format(margin - 8), "y": y(tick), "text-anchor": "end", "dy": "4"],
                text: format(tick))
        }
        svg += element(
            "rect",
            ["x": x(0), "y": y(1), "width": format(plot), "height": format(plot)],
            ["fill": "none", "stroke": "#333"])
        svg += element(
            "text", ["x": format(size / 2), "y": format(size - 18), "text-anchor": "middle"],
            text: xLabel)
        svg += element(
            "text",
            [
                "transform": "translate(18 \(format(size / 2))) rotate(-90)",
                "text-anchor": "middle",
            ],
            text: yLabel)
        for (index, item) in series.enumerated() {
            let points = thin(item.points)
            if item.markers {
                for point in points {
                    svg += element(
                        "circle", ["cx": x(point.0), "cy": y(point.1), "r": "4"],
                        ["fill": item.colour])
                }
            } else if !points.isEmpty {
                let path = points.map { "\(x($0.0)),\(y($0.1))" }.joined(separator: " ")
                var style = ["fill": "none", "stroke": item.colour, "stroke-width": "2"]
                if item.dashed { style["stroke-dasharray"] = "5 4" }
                svg += element("polyline", ["points": path], style)
            }
            let row = Double(index) * 18
            svg += element(
                "rect",
                [
                    "x": format(margin + 12), "y": format(margin + 8 + row), "width": "12",
                    "height": "12",
                ],
                ["fill": item.colour])
            svg += element(
                "text", ["x": format(margin + 30), "y": format(margin + 18 + row)], text: item.label
            )
        }
        return svg + "</svg>\n"
    }

    /// One SVG element on a line of its own; attributes in a fixed (sorted) order.
    private func element(
        _ name: String, _ attributes: [String: String], _ style: [String: String] = [:],
        text: String? = nil
    ) -> String {
        let merged = attributes.merging(style) { first, _ in first }
        var line = "<" + name
        for key in merged.keys.sorted() { line += " \(key)=\"\(escape(merged[key]!))\"" }
        guard let text else { return line + "/>\n" }
        return line + ">" + escape(text) + "</\(name)>\n"
    }

    /// At most about 2,000 points, keeping the first and the last, so files stay small.
    private func thin(_ points: [(Double, Double)]) -> [(Double, Double)] {
        guard points.count > 2000 else { return points }
        let step = Double(points.count - 1) / 1999
        return (0..<2000).map { points[Int((Double($0) * step).rounded())] }
    }

    private func format(_ value: Double) -> String {
        let rounded = (value * 100).rounded() / 100
        return rounded == rounded.rounded() ? String(Int(rounded)) : "\(rounded)"
    }

    private func escape(_ text: String) -> String {
        text.replacingAll("&", "&amp;").replacingAll("<", "&lt;").replacingAll(">", "&gt;")
            .replacingAll("\"", "&quot;")
    }
}

extension String {
    func replacingAll(_ target: String, _ replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

/// The pictures and the JSON of an evaluation.
public enum EvaluationReport {
    /// The ROC curve, precision-recall curve and reliability diagram of a sigmoid head.
    public static func plots(_ evaluation: HeadEvaluation) -> [(file: String, svg: String)] {
        guard evaluation.isSigmoid else { return [] }
        let head = evaluation.head
        let auc = evaluation.metrics["auc_roc"].map { String(format3($0)) } ?? "n/a"
        let ap = evaluation.metrics["average_precision"].map { String(format3($0)) } ?? "n/a"
        var roc = SVGPlot(
            title: "\(head): ROC curve", xLabel: "false positive rate", yLabel: "true positive rate"
        )
        roc.series = [
            .init(label: "model (AUC \(auc))", colour: "#1f77b4", points: evaluation.roc),
            .init(label: "random", colour: "#999", points: [(0, 0), (1, 1)], dashed: true),
        ]
        var pr = SVGPlot(
            title: "\(head): precision-recall curve", xLabel: "recall", yLabel: "precision")
        let base = Double(evaluation.positives) / Double(max(1, evaluation.rows))
        pr.series = [
            .init(label: "model (AP \(ap))", colour: "#d62728", points: evaluation.precisionRecall),
            .init(
                label: "positive rate", colour: "#999", points: [(0, base), (1, base)], dashed: true
            ),
        ]
        var calibration = SVGPlot(
            title: "\(head): calibration", xLabel: "mean predicted probability",
            yLabel: "observed frequency")
        let bins = evaluation.calibrationBins.filter { $0.count > 0 }
        calibration.series = [
            .init(label: "perfect", colour: "#999", points: [(0, 0), (1, 1)], dashed: true),
            .init(
                label:
                    "model (ECE \(format3(evaluation.metrics["expected_calibration_error"] ?? 0)))",
                colour: "#2ca02c", points: bins.map { ($0.meanProbability, $0.positiveRate) }),
            .init(
                label: "bins", colour: "#2ca02c",
                points: bins.map { ($0.meanProbability, $0.positiveRate) },
                markers: true),
        ]
        return [
            ("\(head)-roc.svg", roc.render()), ("\(head)-precision-recall.svg", pr.render()),
            ("\(head)-calibration.svg", calibration.render()),
        ]
    }

    /// The evaluation as JSON: per head its rows, positives and metrics.
    public static func json(_ evaluations: [HeadEvaluation], extra: [(String, String)]) -> String {
        let heads = evaluations.map { evaluation in
            (
                evaluation.head,
                JSONText.object([
                    ("kind", JSONText.quoted(evaluation.isSigmoid ? "sigmoid" : "softmax")),
                    ("rows", String(evaluation.rows)),
                    ("positives", String(evaluation.positives)),
                    (
                        "metrics",
                        JSONText.object(
                            evaluation.metrics.keys.sorted().map {
                                ($0, JSONText.number(evaluation.metrics[$0]!))
                            })
                    ),
                ])
            )
        }
        return JSONText.object(
            extra.map { ($0.0, JSONText.quoted($0.1)) } + [("heads", JSONText.object(heads))])
            + "\n"
    }

    /// A value with three decimals.
    public static func format3(_ value: Double) -> String {
        guard value.isFinite else { return "n/a" }
        let scaled = Int((abs(value) * 1000).rounded())
        let text = "\(scaled / 1000)." + String(String(1000 + scaled % 1000).dropFirst())
        return value < 0 ? "-" + text : text
    }
}
