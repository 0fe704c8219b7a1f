using System;
using System.Collections.Generic;
using System.IO;
using System.Security;
using System.Text;

namespace VirtualNetworks.Topology
{
    /// <summary>Result of reading a topology: a resolved spec (defaults applied) or the errors found.</summary>
    public sealed class TopologyReadResult
    {
        /// <summary>The resolved topology; null when <see cref="Errors"/> is not empty.</summary>
        public TopologySpec? Spec { get; set; }
        /// <summary>Every problem found, in file order where positions are known.</summary>
        public List<TopologyError> Errors { get; set; } = new List<TopologyError>();
        public bool Success => Errors.Count == 0 && Spec != null;
    }

    /// <summary>
    /// Reads topology JSON (Newtonsoft.Json) strictly: unknown fields, wrong types and missing fields are errors that
    /// name the field and its JSON path; syntax errors give line and column. Stage 1 (raw) and stage 2 (defaults
    /// applied) of the topology pipeline; stage 3 (checks against names, limits and observed state) is
    /// <see cref="TopologyValidator"/>.
    /// </summary>
    /// <remarks>
    /// The accepted format is described by docs/topology.schema.json. Points worth knowing:
    /// <list type="bullet">
    /// <item>Optional fields may be null, which means "not given" (the default applies). Required fields (a host's or
    /// router's name, a link's from/to) must be strings.</item>
    /// <item>A section (routers, links, hosts, physicalLinks: arrays; defaults: an object) may be left out, but null is
    /// a wrong type (TopologyWrongType), not an empty section: <c>{ "routers": null }</c> is refused.</item>
    /// <item>Integers may be written as integral numbers (2.0); 2.5 is a wrong type.</item>
    /// <item>maximumBandwidth 0 means unlimited (overriding a default); null means "not given".</item>
    /// <item>Every spelling of the local machine ("", ".", "localhost", the machine name) becomes "" in
    /// <see cref="RouterSpec.Host"/>; an empty network label becomes null.</item>
    /// <item>An unnamed link is called "&lt;from&gt;-&lt;to&gt;", with "-2", "-3", ... added when that name is taken.</item>
    /// <item>"physicalLinks" ([{from, to}]) become <see cref="TopologySpec.PhysicalLinks"/> (the underlay between
    /// hosts); their ends are checked by <see cref="TopologyValidator"/>.</item>
    /// </list>
    /// </remarks>
    public static class TopologyReader
    {
        // Strict UTF-8: invalid bytes are an error rather than silently replaced. A BOM may still select UTF-16/32
        // (Windows PowerShell's '>' writes UTF-16).
        private static readonly Encoding StrictUtf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

        /// <summary>Reads and resolves a file. Never throws for bad content; I/O problems become errors too.</summary>
        public static TopologyReadResult ReadFile(string path)
        {
            if (string.IsNullOrWhiteSpace(path))
                return Failed(ErrorIds.TopologyFileNotFound, ErrorKind.ObjectNotFound, path ?? "", "No topology file was given.");

            string shown = DisplayText.Quote(path);
            string full;
            try
            {
                full = Path.GetFullPath(path);
            }
            catch (Exception ex) when (ex is ArgumentException || ex is NotSupportedException || ex is PathTooLongException || ex is SecurityException)
            {
                return Failed(ErrorIds.TopologyFileUnreadable, ErrorKind.InvalidArgument, path, "The topology file path " + shown + " is not valid: " + ex.Message);
            }

            if (Directory.Exists(full))
                return Failed(ErrorIds.TopologyFileUnreadable, ErrorKind.InvalidArgument, path, "The topology file " + shown + " is a directory, not a file.");
            if (!File.Exists(full))
                return NotFound(path, full);

            string text;
            try
            {
                using (var reader = new StreamReader(full, StrictUtf8, detectEncodingFromByteOrderMarks: true))
                    text = reader.ReadToEnd();
            }
            catch (Exception ex) when (ex is FileNotFoundException || ex is DirectoryNotFoundException)
            {
                return NotFound(path, full);
            }
            catch (UnauthorizedAccessException ex)
            {
                return Failed(ErrorIds.TopologyFileUnreadable, ErrorKind.PermissionDenied, path, "The topology file " + shown + " cannot be read: " + ex.Message);
            }
            catch (DecoderFallbackException)
            {
                return Failed(ErrorIds.TopologyFileUnreadable, ErrorKind.InvalidData, path,
                    "The topology file " + shown + " is not UTF-8 text (or UTF-16/32 with a byte order mark).");
            }
            catch (IOException ex)
            {
                return Failed(ErrorIds.TopologyFileUnreadable, ErrorKind.ResourceUnavailable, path, "The topology file " + shown + " cannot be read: " + ex.Message);
            }

            return new TopologyParser(text, displayName: path, sourceName: full).Run();
        }

        /// <summary>Parses and resolves JSON text; <paramref name="sourceName"/> is used in messages.</summary>
        public static TopologyReadResult Parse(string json, string sourceName) =>
            new TopologyParser(json ?? "", displayName: string.IsNullOrEmpty(sourceName) ? "topology" : sourceName, sourceName: sourceName).Run();

        private static TopologyReadResult NotFound(string path, string full) =>
            Failed(ErrorIds.TopologyFileNotFound, ErrorKind.ObjectNotFound, path,
                "The topology file " + DisplayText.Quote(path) + " does not exist" +
                (string.Equals(path, full, StringComparison.Ordinal) ? "." : " (full path " + DisplayText.Quote(full) + ")."));

        private static TopologyReadResult Failed(string id, ErrorKind kind, string target, string message)
        {
            var result = new TopologyReadResult();
            result.Errors.Add(new TopologyError(id, kind, target, message));
            return result;
        }
    }
}
