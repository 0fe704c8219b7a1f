using System;
using System.Collections.Generic;
using System.IO;
using System.Management.Automation;
using System.Text;
using VirtualNetworks.Engine;
using VirtualNetworks.Export;

namespace VirtualNetworks.Commands
{
    /// <summary>
    /// Export-VirtualNetwork: the observed networks as a topology file (JSON, which Deploy-VirtualNetwork reads back) or
    /// as a diagram (DOT, Mermaid, SVG). Text goes to the pipeline, or to a file with -Path. Names from the pipeline
    /// are gathered and exported together.
    /// </summary>
    [Cmdlet(VerbsData.Export, "VirtualNetwork", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
    [OutputType(typeof(string))]
    [OutputType(typeof(FileInfo))]
    public sealed class ExportVirtualNetworkCommand : NetworkSelectionCommandBase
    {
        private static readonly Encoding Utf8NoBom = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);

        [Parameter(Position = 1)]
        [ValidateNotNullOrEmpty]
        public string? Path { get; set; }

        [Parameter]
        public ExportFormat Format { get; set; } = ExportFormat.Json;

        [Parameter]
        public SwitchParameter Force { get; set; }

        [Parameter]
        public SwitchParameter NoClobber { get; set; }

        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override void EndRecords()
        {
            // The file and its format are checked first: a path it cannot write is refused before anything is observed or written.
            string? file = null;
            var format = Format;
            if (Path != null)
            {
                if (!TryResolveFileSystemPath(Path, out string resolved, out string problem))
                    ThrowTerminatingError(ToErrorRecord(new VirtualNetworksException(ErrorIds.ExportFailed, ErrorKind.InvalidArgument, Path, problem)));
                file = resolved;
                format = FormatFor(Path, file, MyInvocation.BoundParameters.ContainsKey(nameof(Format)) ? Format : (ExportFormat?)null);
            }
            if (NothingSelected) return; // the pipeline brought nothing to export

            if (!ObserveSelection(out _, out var snapshot, out var networks)) return; // nothing matched; literal names already reported

            if (file != null && !ShouldProcess(file, "Export " + (networks == null ? "all virtual networks" : "virtual network(s) " + string.Join(", ", networks)) + " as " + format))
                return;

            string text = OrTerminate(() => Render(snapshot, networks, format));
            if (file == null)
            {
                WriteObject(text);
                return;
            }
            if (format == ExportFormat.Mermaid && IsMarkdown(file) && !text.TrimStart().StartsWith("```", StringComparison.Ordinal))
                text = "```mermaid\n" + text + (text.EndsWith("\n", StringComparison.Ordinal) ? "" : "\n") + "```\n";
            WriteFile(file, text);
            if (PassThru) WriteObject(new FileInfo(file));
        }

        private string Render(Snapshot snapshot, IReadOnlyCollection<string>? networks, ExportFormat format)
        {
            switch (format)
            {
                case ExportFormat.Dot: return GraphExporter.ToDot(snapshot, networks);
                case ExportFormat.Mermaid: return GraphExporter.ToMermaid(snapshot, networks);
                case ExportFormat.Svg: return GraphExporter.ToSvg(snapshot, networks, CancellationToken);
                default: return TopologyWriter.ToJson(VirtualNetworkService.ExportTopology(snapshot, networks));
            }
        }

        /// <summary>The extensions each format is written to; the first is the format's usual one.</summary>
        private static readonly KeyValuePair<ExportFormat, string[]>[] Extensions =
        {
            new KeyValuePair<ExportFormat, string[]>(ExportFormat.Json, new[] { ".json" }),
            new KeyValuePair<ExportFormat, string[]>(ExportFormat.Dot, new[] { ".dot", ".gv" }),
            new KeyValuePair<ExportFormat, string[]>(ExportFormat.Mermaid, new[] { ".mmd", ".md" }),
            new KeyValuePair<ExportFormat, string[]>(ExportFormat.Svg, new[] { ".svg" }),
        };

        /// <summary>The format an extension implies (.json, .dot/.gv, .mmd/.md, .svg), or null for any other extension.</summary>
        private static ExportFormat? FormatOf(string extension)
        {
            foreach (var entry in Extensions)
                if (Array.IndexOf(entry.Value, extension.ToLowerInvariant()) >= 0) return entry.Key;
            return null;
        }

        /// <summary>".json (Json), .dot or .gv (Dot), .mmd or .md (Mermaid), .svg (Svg)".</summary>
        private static string DescribeExtensions()
        {
            var parts = new List<string>();
            foreach (var entry in Extensions) parts.Add(string.Join(" or ", entry.Value) + " (" + entry.Key + ")");
            return string.Join(", ", parts);
        }

        /// <summary>
        /// The format to write <paramref name="file"/> in. Without -Format (<paramref name="given"/> null) the extension decides:
        /// one of the formats' extensions, or none (JSON); any other extension (.png, .txt) is refused with
        /// ExportExtensionNotSupported. With -Format the file gets that format, unless its extension is another format's
        /// (-Format Dot -Path x.svg): ExportFormatMismatch. Both errors are InvalidArgument and terminating, and come before
        /// anything is observed or written.
        /// </summary>
        private ExportFormat FormatFor(string path, string file, ExportFormat? given)
        {
            string extension = System.IO.Path.GetExtension(file);
            var implied = FormatOf(extension);
            if (given.HasValue)
            {
                if (implied.HasValue && implied.Value != given.Value)
                    ThrowTerminatingError(ToErrorRecord(new VirtualNetworksException(ErrorIds.ExportFormatMismatch, ErrorKind.InvalidArgument, path,
                        "Export-VirtualNetwork cannot write '" + path + "' as " + given.Value + ": the extension '" + extension + "' is that of the " +
                        implied.Value + " format. The formats are written to " + DescribeExtensions() + ".")
                    {
                        RecommendedAction = "Give the file an extension of the " + given.Value + " format, or leave out -Format to write " + implied.Value + ".",
                    }));
                return given.Value;
            }
            if (implied.HasValue) return implied.Value;
            if (extension.Length == 0) return ExportFormat.Json;
            ThrowTerminatingError(ToErrorRecord(new VirtualNetworksException(ErrorIds.ExportExtensionNotSupported, ErrorKind.InvalidArgument, path,
                "Export-VirtualNetwork cannot write '" + path + "': it writes no format with the extension '" + extension + "'. It writes " +
                DescribeExtensions() + "; nothing was written.")
            {
                RecommendedAction = "Use one of those extensions (for a picture, .svg), or give -Format to write that format into a file with another extension.",
            }));
            throw new InvalidOperationException("unreachable");
        }

        private static bool IsMarkdown(string file) => string.Equals(System.IO.Path.GetExtension(file), ".md", StringComparison.OrdinalIgnoreCase);

        /// <summary>Writes the file as UTF-8 without BOM: -NoClobber refuses an existing file, -Force overwrites a read-only one.</summary>
        private void WriteFile(string file, string text)
        {
            var info = new FileInfo(file);
            if (info.Exists && NoClobber)
                Fail(ErrorKind.ResourceExists, file, "The file '" + file + "' already exists and -NoClobber was given.");
            bool restoreReadOnly = false;
            try
            {
                if (info.Exists && info.IsReadOnly)
                {
                    if (!Force) Fail(ErrorKind.PermissionDenied, file, "The file '" + file + "' is read-only; use -Force to overwrite it.");
                    info.IsReadOnly = false;
                    restoreReadOnly = true;
                }
                File.WriteAllText(file, text, Utf8NoBom);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException || ex is System.Security.SecurityException)
            {
                Fail(ErrorKind.PermissionDenied, file, "The file '" + file + "' cannot be written: " + ex.Message, ex);
            }
            finally
            {
                if (restoreReadOnly)
                {
                    try { new FileInfo(file).IsReadOnly = true; } catch (IOException) { } catch (UnauthorizedAccessException) { }
                }
            }
        }

        private void Fail(ErrorKind kind, string file, string message, Exception? inner = null) =>
            ThrowTerminatingError(ToErrorRecord(new VirtualNetworksException(ErrorIds.ExportFailed, kind, file, message, inner)));
    }
}
