; Inno Setup script for LossViewer on Windows. NOT BUILT HERE (these machines run Linux);
; written from the Linux build and Inno Setup 6's documentation. Steps, on Windows 10/11:
;   py -3.11 -m venv .venv && .venv\Scripts\pip install -e .
;   .venv\Scripts\python -m pip install "pyinstaller>=6.10"
;   .venv\Scripts\python -m PyInstaller --noconfirm packaging\lossviewer.spec
;   "C:\Program Files (x86)\Inno Setup 6\ISCC.exe" /DAppVersion=0.1.0 packaging\windows\lossviewer.iss
; -> dist\LossViewer-0.1.0-setup.exe (per-user install, no admin rights needed).
; Laptops without a working OpenGL driver: the Start-menu entry "LossViewer (software
; OpenGL)" passes --software-gl (Qt ships opengl32sw.dll in the PySide6 wheel).

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif

[Setup]
AppId={{6D3C4E1B-6E55-4C0B-9F0B-4C6F5356A1D2}
AppName=LossViewer
AppVersion={#AppVersion}
AppPublisher=LossViewer developers
DefaultDirName={autopf}\LossViewer
DefaultGroupName=LossViewer
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
OutputDir=..\..\dist
OutputBaseFilename=LossViewer-{#AppVersion}-setup
SetupIconFile=..\..\resources\icons\lossviewer.ico
UninstallDisplayIcon={app}\lossviewer.exe
Compression=lzma2/max
SolidCompression=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
ChangesAssociations=yes

[Files]
Source: "..\..\dist\lossviewer\*"; DestDir: "{app}"; Flags: recursesubdirs ignoreversion

[Icons]
Name: "{group}\LossViewer"; Filename: "{app}\lossviewer.exe"
Name: "{group}\LossViewer (software OpenGL)"; Filename: "{app}\lossviewer.exe"; Parameters: "--software-gl"
Name: "{autodesktop}\LossViewer"; Filename: "{app}\lossviewer.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "Create a desktop icon"; Flags: unchecked

[Registry]
; .lvs sessions open in LossViewer
Root: HKA; Subkey: "Software\Classes\.lvs"; ValueType: string; ValueData: "LossViewer.Session"; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\LossViewer.Session"; ValueType: string; ValueData: "LossViewer session"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\LossViewer.Session\DefaultIcon"; ValueType: string; ValueData: "{app}\lossviewer.exe,0"
Root: HKA; Subkey: "Software\Classes\LossViewer.Session\shell\open\command"; ValueType: string; ValueData: """{app}\lossviewer.exe"" ""%1"""

[Run]
Filename: "{app}\lossviewer.exe"; Description: "Start LossViewer"; Flags: nowait postinstall skipifsilent
