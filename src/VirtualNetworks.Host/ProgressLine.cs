using System;
using System.Collections.Generic;
using System.Globalization;
using System.Management.Automation;
using System.Text;

namespace VirtualNetworks.Host
{
    /// <summary>
    /// Renders Write-Progress as one status line on stderr (only when stderr is a terminal; see
    /// <see cref="ConsoleOutput.ShowProgress"/>). Several activities may be active; the line shows
    /// the one updated last and, when it completes, falls back to the newest one still running.
    /// </summary>
    internal sealed class ProgressLine
    {
        private readonly ConsoleOutput _console;
        private readonly List<(long Source, int Id, ProgressRecord Record)> _active = new List<(long, int, ProgressRecord)>();
        private readonly object _lock = new object();

        public ProgressLine(ConsoleOutput console) => _console = console;

        public void Update(long sourceId, ProgressRecord record)
        {
            if (!_console.StderrIsTerminal || record == null) return;
            lock (_lock)
            {
                _active.RemoveAll(a => a.Source == sourceId && a.Id == record.ActivityId);
                if (record.RecordType != ProgressRecordType.Completed)
                    _active.Add((sourceId, record.ActivityId, record));
                _console.ShowProgress(_active.Count == 0 ? null : Render(_active[_active.Count - 1].Record));
            }
        }

        public void Reset()
        {
            lock (_lock)
            {
                _active.Clear();
                if (_console.StderrIsTerminal) _console.ShowProgress(null);
            }
        }

        internal static string Render(ProgressRecord r)
        {
            var sb = new StringBuilder();
            sb.Append(r.Activity);
            if (!string.IsNullOrEmpty(r.StatusDescription)) sb.Append(": ").Append(r.StatusDescription);
            if (r.PercentComplete >= 0) sb.Append(' ').Append(Math.Min(100, r.PercentComplete).ToString(CultureInfo.InvariantCulture)).Append('%');
            if (r.SecondsRemaining >= 0) sb.Append(" (").Append(TimeSpan.FromSeconds(r.SecondsRemaining).ToString("c", CultureInfo.InvariantCulture)).Append(" left)");
            if (!string.IsNullOrEmpty(r.CurrentOperation)) sb.Append(" - ").Append(r.CurrentOperation);
            return sb.ToString();
        }
    }
}
