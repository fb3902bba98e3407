namespace Calendar;

/// <summary>The app's clock: woven by the app project's &lt;Patchable&gt; item.</summary>
public static class Clock
{
    public static int Year() => 2026;
}

public static class Greeting
{
    public static string For(string name) => Clock.Year() >= 2030 ? $"Hello from the future, {name}" : $"Hello, {name}";
}
