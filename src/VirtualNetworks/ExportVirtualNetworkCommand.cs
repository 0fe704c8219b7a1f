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
            if (NothingSelected) return; // the pipeline brought nothing to export

            string? file = null;
            if (Path != null)
            {
                if (!TryResolveFileSystemPath(Path, out string resolved, out string problem))
                    ThrowTerminatingError(ToErrorRecord(new VirtualNetworksException(ErrorIds.ExportFailed, ErrorKind.InvalidArgument, Path, problem)));
                file = resolved;
            }
            var format = MyInvocation.BoundParameters.ContainsKey(nameof(Format)) || file == null ? Format : FormatOf(file);

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

        /// <summary>The format an extension implies: .json, .dot/.gv, .mmd/.md, .svg; anything else is JSON.</summary>
        private static ExportFormat FormatOf(string file)
        {
            switch (System.IO.Path.GetExtension(file).ToLowerInvariant())
            {
                case ".dot":
                case ".gv":
                    return ExportFormat.Dot;
                case ".mmd":
                case ".md":
                    return ExportFormat.Mermaid;
                case ".svg":
                    return ExportFormat.Svg;
                default:
                    return ExportFormat.Json;
            }
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
