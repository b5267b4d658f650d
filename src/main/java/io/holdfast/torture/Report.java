package io.holdfast.torture;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.holdfast.local.TcpRetransmission;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.HdrHistogram.Histogram;

/**
 * The run's report, in the cluster directory: {@code report.html} (self-contained: the counts, acked
 * publishes and p99 latency per second as SVG plots with the fault windows shaded, the fault list),
 * and the same per-second figures beside it as {@code report.csv} and {@code report.json} (with
 * the fault windows and the counts) for other tools.
 */
final class Report {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** One second of the run: acked publishes, and their latency percentiles in microseconds. */
  record Second(int second, long acked, long p50Micros, long p99Micros, long maxMicros) {}

  private final Campaign campaign;
  private final Workload workload;

  Report(Campaign campaign, Workload workload) {
    this.campaign = campaign;
    this.workload = workload;
  }

  /** Writes the three files; returns the HTML one. */
  Path write(Checker.Counts c, Campaign.Options o) throws IOException {
    List<Second> seconds = seconds(Math.max(o.seconds(), (int) Math.ceil(campaign.now())));
    List<Campaign.Window> windows;
    synchronized (campaign.windows) {
      windows = List.copyOf(campaign.windows);
    }
    Path dir = campaign.cluster.dir;
    Files.writeString(dir.resolve("report.csv"), csv(seconds));
    Files.writeString(dir.resolve("report.json"), JSON.writerWithDefaultPrettyPrinter()
        .writeValueAsString(json(c, o, seconds, windows)));
    Path html = dir.resolve("report.html");
    Files.writeString(html, html(c, o, seconds, windows));
    return html;
  }

  private List<Second> seconds(int span) {
    List<Second> out = new ArrayList<>();
    for (int s = 0; s <= span; s++) {
      Histogram h = workload.latencies.get(s);
      out.add(h == null ? new Second(s, 0, 0, 0, 0) : new Second(s, h.getTotalCount(), h.getValueAtPercentile(50),
          h.getValueAtPercentile(99), h.getMaxValue()));
    }
    return out;
  }

  private static String csv(List<Second> seconds) {
    StringBuilder sb = new StringBuilder("second,acked,p50_us,p99_us,max_us\n");
    for (Second s : seconds) {
      sb.append(s.second()).append(',').append(s.acked()).append(',').append(s.p50Micros()).append(',')
          .append(s.p99Micros()).append(',').append(s.maxMicros()).append('\n');
    }
    return sb.toString();
  }

  private ObjectNode json(Checker.Counts c, Campaign.Options o, List<Second> seconds, List<Campaign.Window> windows) {
    ObjectNode root = JSON.createObjectNode().put("nodes", o.nodes()).put("replicas", o.replicas())
        .put("seconds", o.seconds()).put("seed", o.seed()).put("faults", String.join(",", o.faults()))
        .put("valid", c.valid()).put("acked", c.acked).put("lost", c.lost).put("lost_middle", c.lostMiddle)
        .put("lost_on_node", c.lostOnNode).put("unexpected", c.unexpected).put("recovered", c.recovered)
        .put("duplicates", c.duplicates).put("misplaced", c.misplaced).put("unknown", workload.unknown.size())
        .put("unavailable", workload.failed.get()).put("consumed", workload.consumed.get())
        .put("max_unavailable_s", campaign.availability.maxUnavailableSeconds())
        .put("majority_up_s", campaign.availability.majorityUpSeconds(o.seconds()));
    // The TCP retransmission cap the nodes ran with (a partition run sets it; null: no such setting).
    root.put("tcp_rto_max_ms", TcpRetransmission.rtoMaxMillis());
    ArrayNode stretches = root.putArray("unavailable_stretches");
    for (Availability.Stretch st : campaign.availability.stretches()) {
      stretches.addObject().put("start_s", st.start()).put("end_s", st.end());
    }
    ArrayNode per = root.putArray("per_second");
    for (Second s : seconds) {
      per.addObject().put("second", s.second()).put("acked", s.acked()).put("p50_us", s.p50Micros())
          .put("p99_us", s.p99Micros()).put("max_us", s.maxMicros());
    }
    ArrayNode faults = root.putArray("faults_injected");
    for (Campaign.Window w : windows) {
      faults.addObject().put("start_s", w.start()).put("end_s", w.end()).put("what", w.what());
    }
    c.notes.forEach(root.putArray("notes")::add);
    return root;
  }

  private String html(Checker.Counts c, Campaign.Options o, List<Second> seconds, List<Campaign.Window> windows) {
    int span = seconds.size() - 1;
    int w = 900;
    int h = 260;
    double xs = (double) w / Math.max(1, span);
    long maxRate = Math.max(1, seconds.stream().mapToLong(Second::acked).max().orElse(1));
    long maxP99 = Math.max(1, seconds.stream().mapToLong(Second::p99Micros).max().orElse(1));
    StringBuilder svg = new StringBuilder("<svg xmlns='http://www.w3.org/2000/svg' width='" + (w + 60) + "' height='"
        + (2 * h + 80) + "' font-family='sans-serif' font-size='11'>");
    for (Campaign.Window win : windows) {
      double x = 50 + win.start() * xs;
      double width = Math.max(2, (win.end() - win.start()) * xs);
      svg.append("<rect x='").append(x).append("' y='10' width='").append(width).append("' height='")
          .append(2 * h + 40).append("' fill='#f4b' fill-opacity='0.15'><title>").append(escape(win.what()))
          .append("</title></rect>");
    }
    for (Availability.Stretch st : campaign.availability.stretches()) {
      svg.append("<rect x='").append(50 + st.start() * xs).append("' y='10' width='")
          .append(Math.max(2, (st.end() - st.start()) * xs)).append("' height='").append(2 * h + 40)
          .append("' fill='#d00' fill-opacity='0.35'><title>").append(String.format(
              "no ack for %.1f s while a majority was up and connected", st.end() - st.start()))
          .append("</title></rect>");
    }
    svg.append("<text x='50' y='8'>acked publishes per second (max ").append(maxRate).append(")</text>");
    svg.append("<text x='50' y='").append(h + 48).append("'>p99 publish latency per second, ms (max ")
        .append(maxP99 / 1000).append(")</text>");
    StringBuilder rateLine = new StringBuilder();
    StringBuilder latLine = new StringBuilder();
    for (Second s : seconds) {
      double x = 50 + s.second() * xs;
      rateLine.append(x).append(',').append(10 + h - (double) s.acked() / maxRate * h).append(' ');
      latLine.append(x).append(',').append(h + 60 + h - (double) s.p99Micros() / maxP99 * h).append(' ');
    }
    svg.append("<polyline fill='none' stroke='#262' stroke-width='1.5' points='").append(rateLine).append("'/>");
    svg.append("<polyline fill='none' stroke='#226' stroke-width='1.5' points='").append(latLine).append("'/>");
    svg.append("</svg>");
    StringBuilder rows = new StringBuilder();
    for (Campaign.Window win : windows) {
      rows.append(String.format("<tr><td>%.1f–%.1f s</td><td>%s</td></tr>", win.start(), win.end(),
          escape(win.what())));
    }
    return "<!doctype html><meta charset='utf-8'><title>Holdfast torture</title>"
        + "<body style='font-family:sans-serif'><h1>Holdfast torture: " + (c.valid() ? "valid" : "INVALID") + "</h1>"
        + "<p>" + o.nodes() + " nodes, R" + o.replicas() + ", " + o.seconds() + " s, faults "
        + escape(String.join(",", o.faults())) + ", seed " + o.seed()
        + " (per-second figures: report.csv, report.json)</p>"
        + "<table border=1 cellpadding=4><tr><th>acked</th><th>lost</th><th>lost_middle</th><th>lost_on_node</th>"
        + "<th>unexpected</th><th>recovered</th><th>duplicates</th><th>misplaced</th><th>unknown</th><th>consumed</th>"
        + "</tr><tr><td>" + c.acked + "</td><td>" + c.lost + "</td><td>" + c.lostMiddle + "</td><td>" + c.lostOnNode
        + "</td><td>" + c.unexpected + "</td><td>" + c.recovered + "</td><td>" + c.duplicates + "</td><td>"
        + c.misplaced + "</td><td>" + workload.unknown.size()
        + "</td><td>" + workload.consumed.get() + "</td></tr></table><p>Longest stretch without an ack while a majority of the stream's nodes was up and"
        + String.format(" connected: %.1f s.", campaign.availability.maxUnavailableSeconds())
        + " Shaded pink: fault windows (hover for what); red: stretches over 1 s without an ack while a majority"
        + " was up and connected.</p>"
        + svg + "<h2>Faults</h2><table border=1 cellpadding=4>" + rows + "</table>"
        + (c.notes.isEmpty() ? "" : "<h2>Notes</h2><ul><li>" + escape(String.join("\n", c.notes))
            .replace("\n", "</li><li>") + "</li></ul>") + "</body>";
  }

  private static String escape(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#39;");
  }
}
